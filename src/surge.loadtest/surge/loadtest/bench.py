"""bin/bench (being written)."""


def main(repository, config, output, argv=None):
    return 0
