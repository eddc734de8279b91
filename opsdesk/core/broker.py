"""kombu's filesystem transport (the single-machine tier's task queue), with whole messages only.

kombu writes a message file in place (open, lock, write) while a consumer may already list, move
and read it without the lock: under a burst of tasks a worker read a half-written file, failed on
the JSON and stopped with "Unrecoverable error". Here a message is written under a name the
consumer ignores (it takes only "<stamp>_<uuid>.<queue>.msg") and renamed into place, which is
atomic within one directory: a consumer sees no file or the whole of it.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs) -> None:
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".partial-{name}")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
