"""sdnapp: tenant layer-2 networks on OpenFlow switches."""

__version__ = "0.1.0"
