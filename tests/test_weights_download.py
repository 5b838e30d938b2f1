"""The Inception files fetched and verified (``ncsn.verified_download``, the `fetch_weights` rule) and
hand-placed files checked before the first job.

A local HTTP server on 127.0.0.1 (started here) serves the real-format random-weight Inception
fixtures: whole, another file's bytes under the name, or a connection dropped half-way.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, TINY, snakemake, write_config

from ncsn.errors import NcsnError
from ncsn.fixtures import write_inception_weights
from ncsn.verified_download import fetch_verified

pytestmark = pytest.mark.xdist_group("workflow")
NAMES = {"weights": "weights-inception-2015-12-05-6726825d.pth", "cleanfid_weights": "inception-2015-12-05.pt"}


class FixtureHandler(http.server.BaseHTTPRequestHandler):
    """GET /good/NAME: the file; /wrong/NAME: the other fixture's bytes; /drop/NAME: half, then hang up."""

    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        mode, _, name = self.path.strip("/").partition("/")
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name] if mode != "wrong" else next(b for n, b in self.files.items() if n != name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.files[name]) if mode == "drop" else len(body)))
        self.end_headers()
        if mode == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def fixture_files(tmp_path_factory) -> dict[str, Path]:
    written = write_inception_weights(tmp_path_factory.mktemp("served"), seed=5)
    return {"weights": written["torch_fidelity"], "cleanfid_weights": written["cleanfid"]}


@pytest.fixture(scope="module")
def server(fixture_files):
    """Base URL of a server on 127.0.0.1 serving the fixtures; no proxy for it in this process or its children."""
    FixtureHandler.files = {path.name: path.read_bytes() for path in fixture_files.values()}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FixtureHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    saved = {key: os.environ.pop(key, None) for key in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")}
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1"
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    os.environ.update({key: value for key, value in saved.items() if value is not None})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ the download itself


def test_a_served_file_is_written_whole_with_its_hash(server, fixture_files, tmp_path):
    source = fixture_files["weights"]
    dest = tmp_path / "w" / source.name
    found = fetch_verified(f"{server}/good/{source.name}", dest, sha256(source))
    assert found == sha256(source) and dest.read_bytes() == source.read_bytes()


def test_wrong_bytes_are_an_error_naming_the_file_and_both_hashes_and_leave_nothing(server, fixture_files, tmp_path):
    source = fixture_files["weights"]
    served = fixture_files["cleanfid_weights"]  # what /wrong/ sends under this name
    dest = tmp_path / source.name
    with pytest.raises(NcsnError) as err:
        fetch_verified(f"{server}/wrong/{source.name}", dest, sha256(source))
    assert str(dest) in str(err.value) and sha256(source) in str(err.value) and sha256(served) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_dropped_connection_leaves_nothing_and_a_rerun_succeeds(server, fixture_files, tmp_path):
    source = fixture_files["cleanfid_weights"]
    dest = tmp_path / source.name
    with pytest.raises(NcsnError, match="broke off|failed after"):
        fetch_verified(f"{server}/drop/{source.name}", dest, sha256(source))
    assert list(tmp_path.iterdir()) == []
    fetch_verified(f"{server}/good/{source.name}", dest, sha256(source))
    assert dest.read_bytes() == source.read_bytes()


# ------------------------------------------------------------------ through the workflow


def inception_config(tmp_path: Path, extractor: dict) -> Path:
    """The tiny digits config scored with an inception extractor (only the weights matter here)."""
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["extractors"]["inception"] = {"kind": "inception", **extractor}
    config["experiments"]["tiny"]["extractor"] = "inception"
    return write_config(tmp_path / "config.yaml", config)


@pytest.mark.slow
def test_the_workflow_fetches_both_files_and_a_broken_transfer_can_be_rerun(server, fixture_files, tmp_path):
    weights = tmp_path / "weights" / NAMES["weights"]
    cleanfid = tmp_path / "weights" / NAMES["cleanfid_weights"]
    sums = {key: sha256(path) for key, path in fixture_files.items()}

    def run(mode: str):
        urls = {key: f"{server}/{mode}/{NAMES[key]}" for key in NAMES}
        config = inception_config(tmp_path, {"weights": str(weights), "download": True, "urls": urls, "sha256": sums})
        return snakemake(tmp_path, config, "--cores", "1", "--", str(weights), str(cleanfid))

    broken = run("drop")
    assert broken.returncode != 0 and "fetch_weights" in broken.stdout, broken.stdout[-3000:]
    assert not weights.exists() and not cleanfid.exists()
    assert [p for p in weights.parent.iterdir()] == [] if weights.parent.exists() else True

    again = run("good")
    assert again.returncode == 0, again.stdout[-3000:]
    assert weights.read_bytes() == fixture_files["weights"].read_bytes()
    assert cleanfid.read_bytes() == fixture_files["cleanfid_weights"].read_bytes()


def test_a_corrupted_hand_placed_weights_file_stops_the_run_before_the_first_job(fixture_files, tmp_path):
    """The fixtures' random weights are not the published files: the run names the file and both hashes."""
    config = inception_config(tmp_path, {"weights": str(fixture_files["weights"])})
    result = snakemake(tmp_path, config, "--cores", "1")
    assert result.returncode != 0
    message = result.stdout.split("Wrong input files, nothing was run", 1)[1]
    assert (
        f"extractors.inception.weights: file '{fixture_files['weights']}' has SHA-256 {sha256(fixture_files['weights'])}"
        in message
    )
    assert "expected 6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2" in message
    assert "extractors.inception.cleanfid_weights" in message
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------ one data set at a time


@pytest.mark.slow
def test_one_data_set_is_prepared_from_the_paper_config_while_the_others_and_the_weights_are_missing(tmp_path):
    """`snakemake results/data/mnist/train.npz` needs MNIST only: CelebA's folder and the Inception
    files are missing, and the run still prepares MNIST; asking for CelebA names only CelebA."""
    from ncsn.fixtures import write_mnist

    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    paper["datasets"]["mnist"].update(root=str(write_mnist(tmp_path / "mnist", n_train=12, n_test=6)), download=False)
    paper["datasets"]["cifar10"]["download"] = False  # no network here: its folder is missing too
    config = write_config(tmp_path / "paper.yaml", paper)

    prepared = snakemake(tmp_path, config, "--cores", "1", "--", "results/data/mnist/train.npz")
    assert prepared.returncode == 0, prepared.stdout[-3000:]
    assert (tmp_path / "results/data/mnist/train.npz").is_file()

    celeba = snakemake(tmp_path, config, "--cores", "1", "--", "results/data/celeba/train.npz")
    assert celeba.returncode != 0
    stop = celeba.stdout.split("Missing inputs, nothing was run", 1)[1]
    assert "datasets.celeba.root: folder 'data/celeba' does not exist" in stop
    assert "cifar10" not in stop and "extractors.inception" not in stop, stop
