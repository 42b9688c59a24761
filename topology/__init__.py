"""Pure topology: switches, their ports, and (later) the links between them."""
