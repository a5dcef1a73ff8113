"""Progress lines of the programs and commands: one way to say what is happening."""

import datetime


def sayer(name="", timestamps=False):
    """A say(message) that prints 'NAME: message' (with the time first when TIMESTAMPS), flushed at once."""

    def say(message):
        stamp = f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S} " if timestamps else ""
        print(f"{stamp}{name + ': ' if name else ''}{message}", flush=True)

    return say
