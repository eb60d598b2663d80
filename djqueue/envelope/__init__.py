"""The envelope: what a message is and carries.

- :mod:`.message`: :class:`~djqueue.envelope.message.Message`, its fields
  and its wire form;
- :mod:`.signing`: the signature that lets a consumer trust a message and
  a caller trust a result;
- :mod:`.serializers`: how arguments and results become text;
- :mod:`.codec`: a message's arguments and result, encoded and decoded with
  its own serializer;
- :mod:`.retries`: retry policies and their delays;
- :mod:`.options`: the checks of the options a message carries.

Both sides depend on it; it depends on nothing of djqueue but the base
modules (``conf``, ``exceptions``, ``states``).
"""
