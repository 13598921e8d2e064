"""The subscriber's command, ``tradealerts``: thin commands over ``tradealerts.client``."""
