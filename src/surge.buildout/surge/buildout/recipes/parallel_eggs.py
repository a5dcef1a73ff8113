"""Recipe surge.buildout:parallel-eggs: install the build's pinned eggs several at a time.

zc.buildout installs each missing distribution on its own, one after another:
it reads the project's index page, downloads the file and runs ``pip install``
on it in a new process (about half a second each; the development build has
about 350). This part comes before every part that installs eggs. When
zc.buildout loads it, it installs what the later parts' recipes need (their
recipe's distribution and its requirements); when it runs, what every part's
``eggs`` need. It follows the requirements from the pins in [versions] and
hands each missing pinned distribution to zc.buildout's own step for one
distribution (``Installer._get_dist``: the same index, download cache and eggs
directory) in worker processes, twice as many as the machine has CPUs (each
waits on the network, then on ``pip``), as soon as what requires it is
installed. The recipes and parts then find their eggs installed. It has no
option.

Nothing here decides a version: a requirement without a pin in [versions] is
left to zc.buildout, which picks it or refuses it as the build says. A
distribution that fails here is only reported: zc.buildout tries it again and
stops the build with its own message. Each is installed whole (zc.buildout
installs into a temporary directory and renames). ``var/parallel-eggs.sha256``
keeps a digest of the requirements, the pins and the eggs directories' listings
as the last run left them; while it matches, there is nothing to follow.
Offline or installing from the download cache only, it installs nothing.

It also hands zc.recipe.egg the working sets it resolved in an earlier build
while nothing they depend on changed (surge.buildout.working_sets): loading it
is the first moment of the build that comes before every part's resolution.
"""

import os
import sys

import zc.buildout.easy_install
from packaging.utils import canonicalize_name

# zc.buildout's own copy: setuptools no longer ships pkg_resources.
from zc.buildout.easy_install import pkg_resources

from surge.buildout import working_sets
from surge.buildout.progress import sayer
from surge.buildout.recipes import instance

# Recipes of ours that load another recipe when zc.buildout loads them.
LOADS = {"surge.buildout:instance": instance.LOADS}

say = sayer("parallel-eggs")


class ParallelEggs:
    def __init__(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        self.jobs = 2 * (os.cpu_count() or 1)
        self.settings = buildout["buildout"]
        self.stamp = os.path.join(self.settings["directory"], "var", "parallel-eggs.sha256")
        working_sets.remember(buildout)
        # The later parts' recipes load after this one, each installing its
        # distribution's requirements one by one unless they are here first.
        if self.active():
            installed = installed_projects(self.settings)
            missing = [requirement for requirement in recipes_of(buildout, self.later_parts())
                       if canonicalize_name(requirement.project_name) not in installed]
            if missing:
                Installation(self.settings, self.jobs).run(missing)

    def active(self):
        return "true" not in (self.settings.get("offline"), self.settings.get("install-from-cache"))

    def later_parts(self):
        parts = self.settings["parts"].split()
        return parts[parts.index(self.name) + 1:] if self.name in parts else parts

    def install(self):
        if not self.active():
            return ()
        requirements = [line for part in self.later_parts() for line in eggs_of(self.buildout[part])]
        if read(self.stamp) != self.state(requirements):
            Installation(self.settings, self.jobs).run(map(pkg_resources.Requirement.parse, requirements))
            os.makedirs(os.path.dirname(self.stamp), exist_ok=True)
            with open(self.stamp + ".new", "w") as stream:
                stream.write(self.state(requirements))
            os.replace(self.stamp + ".new", self.stamp)
        return ()

    update = install

    def state(self, requirements):
        """What the last run's work depends on: the requirements, the pins, what is installed."""
        return working_sets.digest_of([*sorted(requirements), *working_sets.pin_lines(),
                                       *working_sets.listing(self.settings["eggs-directory"]),
                                       *working_sets.listing(self.settings["develop-eggs-directory"])])


def eggs_of(options):
    """The requirement lines of a part's ``eggs`` option."""
    for line in options.get("eggs", "").splitlines():
        line = line.split("#")[0].strip()
        if line:
            yield line


def recipes_of(buildout, parts):
    """The distribution of each part's recipe, as written, and the recipe it loads in turn.

    A substituted recipe is left to zc.buildout.
    """
    for part in parts:
        recipe = buildout._raw.get(part, {}).get("recipe", "").strip()
        if recipe and "$" not in recipe:
            yield pkg_resources.Requirement.parse(recipe.split(":")[0])
            if recipe in LOADS:
                yield pkg_resources.Requirement.parse(LOADS[recipe])


def installed_projects(settings):
    """The projects with an egg in the eggs directory or a develop egg, by name only (cheap)."""
    names = {entry.split("-")[0] for entry in working_sets.listing(settings["eggs-directory"])}
    for entry in working_sets.listing(settings["develop-eggs-directory"]):
        for suffix in (".egg-link", ".dist-info"):
            if entry.endswith(suffix):
                names.add(entry[: -len(suffix)].split("-")[0])
    return {canonicalize_name(name) for name in names}


def read(path):
    try:
        with open(path) as stream:
            return stream.read()
    except FileNotFoundError:
        return None


class Installation:
    """Follows requirements through the installed and the newly installed eggs."""

    def __init__(self, settings, jobs):
        self.jobs = jobs
        self.eggs = settings["eggs-directory"]
        self.where = (settings.get("find-links", "").split(), settings.get("index"),
                      tuple(settings.get("allow-hosts", "*").split()))
        self.pins = working_sets.pins()
        self.dists = {}  # project: its installed distributions
        environment = pkg_resources.Environment(
            installer_paths(self.eggs) + [settings["develop-eggs-directory"]]
            + zc.buildout.easy_install.buildout_and_setuptools_path)
        for key in environment:
            for dist in environment[key]:
                self.add(dist)
        self.walked = set()  # (project, extra), "" for the project itself
        self.waiting = {}  # project being installed: the extras asked of it
        self.installed, self.failed = [], []

    def run(self, requirements):
        import concurrent.futures  # here: a build with nothing to install does not load them
        import multiprocessing

        found = list(requirements)
        # fork: each worker is this build's process, with zc.buildout's
        # settings (pins, download cache) as they are now.
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(self.jobs, mp_context=context) as pool:
            running = {}
            while found or running:
                for requirement in found:
                    self.follow(requirement, pool, running)
                found = []
                if not running:
                    break
                done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    project = running.pop(future)
                    extras = self.waiting.pop(project)
                    try:
                        locations = future.result()
                    # BaseException: zc.buildout ends a failed pip with SystemExit.
                    except BaseException as error:
                        self.failed.append(project)
                        lines = str(error).strip().splitlines() or [type(error).__name__]
                        say(f"{project}: not installed here ({lines[-1]})")
                        continue
                    self.installed.append(project)
                    for location in locations:
                        for dist in pkg_resources.find_distributions(location):
                            self.add(dist)
                    found.extend(self.requirements_of(project, extras))
        if self.installed:
            say(f"installed {len(self.installed)} distributions, {self.jobs} at a time")
        if self.failed:
            say(f"left to zc.buildout, which tries again and says why: {' '.join(self.failed)}")

    def follow(self, requirement, pool, running):
        project = canonicalize_name(requirement.project_name)
        extras = tuple(requirement.extras)
        if project in self.waiting:
            self.waiting[project].update(extras)
            return
        if project in self.failed:
            return
        if self.local(project) is not None:
            for needed in self.requirements_of(project, extras):
                self.follow(needed, pool, running)
            return
        pin = self.pins.get(project)
        if pin is None:
            return
        self.waiting[project] = set(extras)
        running[pool.submit(install_one, f"{requirement.project_name}=={pin}", self.eggs, *self.where)] = project

    def add(self, dist):
        self.dists.setdefault(canonicalize_name(dist.project_name), []).append(dist)

    def local(self, project):
        """The installed distribution the build would use: a develop egg, else the pinned one."""
        candidates = self.dists.get(project, ())
        for dist in candidates:
            if dist.precedence == pkg_resources.DEVELOP_DIST:
                return dist
        pin = self.pins.get(project)
        for dist in candidates:
            if pin is None or dist.version == pin or str(dist.parsed_version) == pin:
                return dist
        return None

    def requirements_of(self, project, extras):
        dist = self.local(project)
        if dist is None:
            return []
        new = [extra for extra in ("", *extras) if (project, extra) not in self.walked]
        self.walked.update((project, extra) for extra in new)
        if not new:
            return []
        known = [extra for extra in new if extra and extra in dist.extras]
        return dist.requires(known)


def installer_paths(eggs):
    """Where zc.buildout looks for installed eggs in the eggs directory."""
    return zc.buildout.easy_install.Installer(dest=eggs, newest=False)._get_dest_dist_paths()


def install_one(spec, eggs, links, index, allow_hosts):
    """zc.buildout's own install of one distribution (in a worker process): its locations."""
    sys.stdout.flush()
    installer = zc.buildout.easy_install.Installer(
        dest=eggs, links=links, index=index, newest=False, allow_hosts=allow_hosts, check_picked=False)
    dists = installer._get_dist(pkg_resources.Requirement.parse(spec), pkg_resources.WorkingSet([]))
    return [dist.location for dist in dists]
