"""tradealerts: fractal support/resistance, trendlines and price alerts from one MT5 terminal."""

__version__ = "0.1.0"
__all__ = ["__version__"]
