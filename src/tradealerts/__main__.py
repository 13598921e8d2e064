"""``python -m tradealerts`` runs the subscriber's command."""

from tradealerts.cli.app import main

main()
