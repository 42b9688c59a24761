"""Testbeds: the real sdnapp process, Mininet topologies and scenario runners for tests, demo and benchmarks."""
