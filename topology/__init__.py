"""Pure topology: switches and their ports, the links between them, the flooding tree and paths, LLDP frames."""
