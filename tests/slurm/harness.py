"""A throwaway single-node Slurm cluster for tests.

``ensure_slurm_installed`` installs the Debian packages (munge, slurmctld, slurmd,
slurm-client) when they are missing and the machine allows it (root and apt-get), and
says why not otherwise. ``SlurmCluster`` writes a minimal slurm.conf (no cgroups, no
accounting database) and a munge key into a directory of its own, starts munged,
slurmctld and slurmd as child processes in the foreground (so their PIDs are ours),
waits until the node is idle and stops everything it started by PID.

Every daemon, and through them every job, gets ``SLURM_CONF`` pointing at that
directory's slurm.conf: the cluster never reads or writes /etc/slurm, /etc/munge,
/run or /var. Client commands find it through the same variable in
``SlurmCluster.env``, and through small wrappers (``<base>/bin/srun`` etc., first on
that PATH) that set it: inside a job the executor plugin's jobstep removes every
``SLURM_*`` variable but a few job IDs before it calls ``srun``, so without them srun
would look for /etc/slurm/slurm.conf (where a real cluster keeps it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "srun", "scontrol", "scancel")
SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def find_binary(name: str) -> str | None:
    """A program on PATH or in the sbin directories (daemons live there)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    return shutil.which(name, path=path)


def missing_binaries() -> list[str]:
    return [b for b in (*DAEMONS, *CLIENTS) if find_binary(b) is None]


def ensure_slurm_installed(timeout: float = 900) -> tuple[str | None, float]:
    """Install the Slurm and munge Debian packages if they are missing.

    Returns (reason, seconds): reason is None when everything is there (installed now
    or before) and a sentence saying why the cluster cannot run otherwise; seconds is
    the time apt-get took (0 when nothing had to be installed). An apt-get that runs and
    fails raises RuntimeError with its output: a root machine with apt-get is expected
    to be able to install them.
    """
    if not missing_binaries():
        return None, 0.0
    if os.geteuid() != 0:
        return (
            f"Slurm is not installed (missing: {', '.join(missing_binaries())}) and this "
            "is not root, so the test cannot apt-get install " + " ".join(PACKAGES)
        ), 0.0
    apt = shutil.which("apt-get")
    if apt is None:
        return (
            f"Slurm is not installed (missing: {', '.join(missing_binaries())}) and "
            "there is no apt-get to install it with"
        ), 0.0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "-o", "Dpkg::Use-Pty=0", *PACKAGES]
    start = time.monotonic()
    res = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:  # stale or missing package lists: update once and retry
        subprocess.run(
            [apt, "update", "-q"], env=env, capture_output=True, text=True, timeout=timeout
        )
        res = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - start
    if res.returncode != 0 or missing_binaries():
        raise RuntimeError(
            f"apt-get install {' '.join(PACKAGES)} failed (exit {res.returncode}; still "
            f"missing: {', '.join(missing_binaries())}):\n{res.stdout[-3000:]}\n"
            f"{res.stderr[-3000:]}"
        )
    return None, seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def short_hostname() -> str:
    """The name slurmd must be told (``hostname -s``)."""
    try:
        out = subprocess.run(["hostname", "-s"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except OSError:
        pass
    return socket.gethostname().split(".")[0]


def total_memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 8000


def node_cpus() -> int:
    """CPUs this process may use (what slurmd sees, give or take an affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


SLURM_CONF = """\
# Minimal single-node Slurm for tests (written by tests/slurm/harness.py).
ClusterName={cluster}
# addresses pinned to loopback: works where the host name does not resolve
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={run}/slurmctld.pid
SlurmdPidFile={run}/slurmd.pid
SlurmctldLogFile={log}/slurmctld.log
SlurmdLogFile={log}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups: plain process tracking, no task confinement
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# no slurmdbd: job status comes from slurmctld (squeue), which keeps finished jobs
# for MinJobAge seconds (the executor plugin wants >= 3x its first status delay)
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge={min_job_age}
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 NodeHostname={host} CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class SlurmCluster:
    """munged + slurmctld + slurmd on this machine, all state under ``base``."""

    base: Path
    partition: str = "debug"
    cluster: str = "smktest"
    min_job_age: int = 300
    mem_mb: int | None = None
    cpus: int | None = None
    host: str = field(default_factory=short_hostname)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    killed_strays: list[int] = field(default_factory=list)

    def __post_init__(self):
        self.base = Path(self.base)
        self.conf = self.base / "slurm.conf"
        self.munge_dir = self.base / "munge"
        self.munge_socket = self.munge_dir / "munge.socket.2"
        self.log_dir = self.base / "log"
        self.bin_dir = self.base / "bin"
        if self.cpus is None:
            self.cpus = node_cpus()
        if self.mem_mb is None:  # below the machine's memory, else slurmd drains the node
            self.mem_mb = max(1000, min(8000, total_memory_mb() - 2000))

    # -- environment -------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """Environment for client commands and Snakemake: our slurm.conf, sbin on PATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", ""), *SBIN])
        return env

    def run(self, *cmd: str, timeout: float = 30, check: bool = False):
        return subprocess.run(
            list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout, check=check
        )

    # -- start -------------------------------------------------------------------------
    def write_config(self) -> None:
        for d in ("state", "spool", "run", "log", "munge", "bin"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o700)
        os.chmod(self.munge_dir, 0o700)
        key = self.munge_dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        self.conf.write_text(
            SLURM_CONF.format(
                cluster=self.cluster,
                host=self.host,
                ctld_port=free_port(),
                slurmd_port=free_port(),
                munge_socket=self.munge_socket,
                state=self.base / "state",
                spool=self.base / "spool",
                run=self.base / "run",
                log=self.log_dir,
                min_job_age=self.min_job_age,
                cpus=self.cpus,
                mem_mb=self.mem_mb,
                partition=self.partition,
            )
        )
        for name in (*CLIENTS, "sacct"):
            real = find_binary(name)
            if real is None:
                continue
            wrapper = self.bin_dir / name
            wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec {real} "$@"\n')
            os.chmod(wrapper, 0o755)

    def _spawn(self, name: str, *args: str) -> None:
        out = open(self.log_dir / f"{name}.out", "wb")  # noqa: SIM115 - lives with the daemon
        self.procs[name] = subprocess.Popen(
            [find_binary(name), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # same process group as the test: a ^C or a group kill reaches them too
        )
        out.close()

    def _check_alive(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {p.returncode} while starting:\n{self.logs()}"
                )

    def start(self, timeout: float = 90) -> None:
        self.write_config()
        self._spawn(
            "munged",
            "--foreground",
            "--force",
            f"--socket={self.munge_socket}",
            f"--key-file={self.munge_dir / 'munge.key'}",
            f"--pid-file={self.munge_dir / 'munged.pid'}",
            f"--log-file={self.log_dir / 'munged.log'}",
            f"--seed-file={self.munge_dir / 'munged.seed'}",
        )
        deadline = time.monotonic() + timeout
        while not self.munge_socket.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"munged did not create its socket:\n{self.logs()}")
            time.sleep(0.1)
        # -i: ignore (absent) state files, -c would clear jobs; -D: stay in the foreground
        self._spawn("slurmctld", "-D", "-i", "-f", str(self.conf))
        self._wait(lambda: self.run("scontrol", "ping").returncode == 0, deadline, "slurmctld")
        self._spawn("slurmd", "-D", "-f", str(self.conf), "-N", self.host)
        self._wait(self._node_idle, deadline, f"node {self.host} idle")

    def _wait(self, ok, deadline: float, what: str) -> None:
        while True:
            self._check_alive()
            if ok():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"timed out waiting for {what}:\n{self.run('sinfo', '-N', '-l').stdout}"
                    f"\n{self.logs()}"
                )
            time.sleep(0.5)

    def node_state(self) -> str:
        res = self.run("sinfo", "-h", "-N", "-n", self.host, "-o", "%T")
        return res.stdout.strip()

    def _node_idle(self) -> bool:
        state = self.node_state()
        if state.startswith(("down", "drain")):  # e.g. left from a previous life
            self.run("scontrol", "update", f"nodename={self.host}", "state=resume")
        return state == "idle"

    # -- inspect -----------------------------------------------------------------------
    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still knows (finished ones for MinJobAge seconds)."""
        fmt = "%i|%j|%T|%P|%C|%m|%b|%N"
        res = self.run("squeue", "--states=all", "--noheader", f"--format={fmt}")
        keys = ("jobid", "name", "state", "partition", "cpus", "min_memory", "gres", "nodes")
        return [
            dict(zip(keys, line.split("|"), strict=False))
            for line in res.stdout.splitlines()
            if line.strip()
        ]

    def logs(self, tail: int = 3000) -> str:
        parts = []
        for f in sorted(self.log_dir.glob("*")):
            text = f.read_text(errors="replace")
            parts.append(f"--- {f.name} ---\n{text[-tail:]}")
        return "\n".join(parts)

    # -- stop --------------------------------------------------------------------------
    def _job_processes(self) -> list[int]:
        """PIDs of processes carrying our SLURM_CONF (slurmstepd, job scripts, srun,
        Snakemake inside jobs): all started through our daemons."""
        marker = f"SLURM_CONF={self.conf}".encode()
        ours = {p.pid for p in self.procs.values()} | {os.getpid()}
        pids = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) in ours:
                continue
            try:
                environ = (d / "environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                pids.append(int(d.name))
        return pids

    def stop(self, timeout: float = 15) -> None:
        """Cancel jobs, stop slurmd, slurmctld, munged (that order) by PID, then end
        any process that still carries our SLURM_CONF (job steps)."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                self.run("scancel", "--full", f"--partition={self.partition}", timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout)
        for _ in range(2):
            for pid in self._job_processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.killed_strays.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)

    def __enter__(self) -> SlurmCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
