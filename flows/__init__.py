"""Pure flow computation: (state, topology) -> the flows each switch should hold."""
