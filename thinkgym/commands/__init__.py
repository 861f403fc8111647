"""The subcommands of the ``thinkgym`` command, one module per command.

Every command module exposes:

* a module docstring whose first line is the one-line help shown by ``thinkgym --help`` and
  whose rest (with an ``Example`` section) is the description shown by ``thinkgym CMD --help``;
* ``add_arguments(parser: argparse.ArgumentParser) -> None``, which adds its options;
* ``run(args: argparse.Namespace) -> int``, which does the work and returns the exit status.

Modules import heavy dependencies (torch, transformers, ...) inside ``run`` so that
``thinkgym --help`` stays fast. :mod:`thinkgym.cli` lists the top-level commands,
:mod:`thinkgym.commands.train` the ``train`` subcommands; :mod:`thinkgym.commands._common` holds
the argument types (``positive_int``, ``finite_float``, ``env_name``, ...) that turn a bad value
into a one-line usage error.
"""
