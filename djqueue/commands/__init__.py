"""Commands: the caller's side, from the decorator to the result.

- :mod:`.command`: ``@queue_command`` and
  :class:`~djqueue.commands.command.QueueCommand`;
- :mod:`.options`: :class:`~djqueue.commands.options.CommandOptions`, what a
  command or a call sets;
- :mod:`.registry`: the commands by name, filled from each app's
  ``commands.py``;
- :mod:`.periodic`: periodic commands' schedules and the ticker that
  enqueues them;
- :mod:`.enqueue`: a call becomes a signed message on its queue;
- :mod:`.result`: :class:`~djqueue.commands.result.Result`, the handle a call
  returns.

This package's ``__init__`` imports nothing: the consumer imports
``registry`` and ``periodic`` without loading the caller's side.
"""
