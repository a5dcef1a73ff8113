"""Locust users of bin/bench: members reading pages as fast as they can.

Each user reads pages through one target in turn (HAProxy, or one Zope
instance each), with a member's login cookie and the request class header
that nginx would set, at the virtual host path nginx would build.
"""

import itertools
import random

from locust import FastHttpUser, constant, events, task

from surge.loadtest import content, samples
from surge.loadtest.settings import add_arguments

_targets = itertools.count()


@events.init_command_line_parser.add_listener
def _(parser):
    add_arguments(parser)
    group = parser.add_argument_group("bin/bench")
    group.add_argument("--targets", default="", help="base URLs, one per user in turn")
    group.add_argument("--path-prefix", default="", help="the virtual host path before the page's")
    group.add_argument("--member-cookie", default="", help="a member's __ac cookie (name=value)")


@events.init.add_listener
def configure(environment, **kwargs):
    if environment.parsed_options and environment.parsed_options.samples:
        samples.record(environment, environment.parsed_options.samples)


class MemberReader(FastHttpUser):
    wait_time = constant(0)

    def __init__(self, environment):
        options = environment.parsed_options
        targets = options.targets.split()
        self.host = targets[next(_targets) % len(targets)]
        super().__init__(environment)
        self.options = options
        self.headers = {"Cookie": options.member_cookie, "X-Surge-Class": "member"}

    @task
    def page(self):
        path = self.options.path_prefix + random.choice(content.page_paths(self.options))
        with self.client.get(path, headers=self.headers, name="member: page", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code or response.error!r} for {path}")
            elif "logout" not in response.text:
                response.failure(f"{path} was not a member's page")
