"""The ``edgeinfer`` command line: one module per subcommand, thin over :mod:`edgeinfer.api`."""
