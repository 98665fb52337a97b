"""The `download` -> `prepare` path, offline: tiny archives in each dataset's published format, served over HTTP
from 127.0.0.1, fetched and checked by torchvision's own dataset classes.

$BNLAB_DATASET_MIRROR points torchvision's URLs at the test server; where a test expects success, the md5 sums
torchvision checks are those of the tiny files (monkeypatched on its classes); elsewhere they are the real ones.
"""

import gzip
import hashlib
import http.server
import io
import os
import pickle
import socket
import struct
import subprocess
import sys
import tarfile
import threading

import numpy as np
import pytest
import torchvision.datasets as tvd
from PIL import Image

from bnlab.data import sources
from bnlab.data.prepare import load, prepare
from bnlab.errors import DataError
from conftest import DATASET_ENTRY

IMAGENETTE_WNIDS = ["n01440764", "n02102040", "n02979186"]  # torchvision names them tench, English springer, ...


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def tgz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Archive:
    """One dataset's files as its publisher serves them, the md5 patches that make torchvision accept them, and
    the arrays prepare must produce from them."""

    def __init__(self, files: dict[str, bytes], patches: list, expected: dict):
        self.files, self.patches, self.expected = files, patches, expected


def cifar10() -> Archive:
    """cifar-10-python.tar.gz: five training batches and a test batch of pickled (N, 3072) CHW rows, and the meta."""
    rng = np.random.default_rng(0)
    names = [f"class{i}" for i in range(10)]
    members, batches = {}, {}
    for batch in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
        labels = rng.permutation(10).tolist()  # every class once per batch
        batches[batch] = images, labels
        row = {"batch_label": batch, "labels": labels, "data": images.transpose(0, 3, 1, 2).reshape(10, 3072)}
        members[f"cifar-10-batches-py/{batch}"] = pickle.dumps(row)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({"label_names": names, "num_vis": 3072})
    archive = tgz(members)
    cls = tvd.CIFAR10
    patches = [
        (cls, "tgz_md5", md5(archive)),
        (
            cls,
            "train_list",
            [[f"data_batch_{i}", md5(members[f"cifar-10-batches-py/data_batch_{i}"])] for i in range(1, 6)],
        ),
        (cls, "test_list", [["test_batch", md5(members["cifar-10-batches-py/test_batch"])]]),
        (cls, "meta", {**cls.meta, "md5": md5(members["cifar-10-batches-py/batches.meta"])}),
    ]
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    expected = {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": batches["test_batch"][0],
        "y_test": np.array(batches["test_batch"][1]),
        "classes": names,
    }
    return Archive({"cifar-10-python.tar.gz": archive}, patches, expected)


def idx(array: np.ndarray) -> bytes:
    """An IDX file (LeCun's format): magic 0x08 (unsigned byte) and the rank, the sizes, the bytes; gzipped."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def mnist_family(cls) -> Archive:
    """The four gzipped IDX files of MNIST and Fashion-MNIST: 28x28 grayscale images and their labels."""
    rng = np.random.default_rng(1)
    arrays = {}
    for split, n in (("train", 20), ("test", 10)):
        arrays[f"x_{split}"] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        arrays[f"y_{split}"] = np.arange(n) % 10
    files = {
        "train-images-idx3-ubyte.gz": idx(arrays["x_train"]),
        "train-labels-idx1-ubyte.gz": idx(arrays["y_train"]),
        "t10k-images-idx3-ubyte.gz": idx(arrays["x_test"]),
        "t10k-labels-idx1-ubyte.gz": idx(arrays["y_test"]),
    }
    patches = [(cls, "resources", [(name, md5(data)) for name, data in files.items()])]
    expected = {
        **arrays,
        "x_train": arrays["x_train"][..., None],
        "x_test": arrays["x_test"][..., None],
        "classes": list(cls.classes),
    }
    return Archive(files, patches, expected)


def jpeg(level: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((10, 12, 3), level, np.uint8)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def imagenette() -> Archive:
    """imagenette2-160.tgz: train/ and val/ folders of JPEGs per WordNet id, and the noisy-labels csv."""
    members, rows = {}, ["path,noisy_labels_0,noisy_labels_1,noisy_labels_5,noisy_labels_25,noisy_labels_50,is_valid"]
    for c, wnid in enumerate(IMAGENETTE_WNIDS):
        for i in range(5):  # four training images and one validation image per class; gray level 40 + 50c + 5i
            split = "val" if i == 4 else "train"
            path = f"{split}/{wnid}/{wnid}_{i}.JPEG"
            members[f"imagenette2-160/{path}"] = jpeg(40 + 50 * c + 5 * i)
            rows.append(f"{path},{wnid},{wnid},{wnid},{wnid},{wnid},{split == 'val'}")
    members["imagenette2-160/noisy_imagenette.csv"] = ("\n".join(rows) + "\n").encode()
    archive = tgz(members)
    url = tvd.Imagenette._ARCHIVES["160px"][0]
    patches = [(tvd.Imagenette._ARCHIVES, "160px", (url, md5(archive)))]
    return Archive(
        {"imagenette2-160.tgz": archive}, patches, {"classes": ["tench", "English springer", "cassette player"]}
    )


ARCHIVES = {
    "CIFAR10": cifar10,
    "MNIST": lambda: mnist_family(tvd.MNIST),
    "FashionMNIST": lambda: mnist_family(tvd.FashionMNIST),
    "Imagenette": imagenette,
}


# torchvision's md5 of the first file it fetches for each dataset.
PUBLISHED_MD5 = {
    "CIFAR10": lambda: tvd.CIFAR10.tgz_md5,
    "MNIST": lambda: tvd.MNIST.resources[0][1],
    "FashionMNIST": lambda: tvd.FashionMNIST.resources[0][1],
    "Imagenette": lambda: tvd.Imagenette._ARCHIVES["160px"][1],
}


class Server:
    """Serves ``files`` by name on 127.0.0.1; a name in ``cut`` gets its full Content-Length but half its bytes."""

    def __init__(self):
        self.files, self.cut, self.requests = {}, set(), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append(name)
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if name in server.cut else data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Requests to 127.0.0.1 go straight to the test server."""
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(proxy, raising=False)


@pytest.fixture
def server(monkeypatch):
    serving = Server()
    monkeypatch.setenv(sources.MIRROR_ENV, serving.url)
    yield serving
    serving.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(server, monkeypatch, name) -> Archive:
    archive = ARCHIVES[name]()
    for target, key, value in archive.patches:
        (monkeypatch.setitem if isinstance(target, dict) else monkeypatch.setattr)(target, key, value)
    server.files.update(archive.files)
    return archive


def check_prepared(name, archive, path):
    arrays = load(path)
    assert list(arrays["classes"]) == archive.expected["classes"]
    if name != "Imagenette":
        for key in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(arrays[key], archive.expected[key], err_msg=key)
        return
    # Imagenette: train and val pooled, then split 3:1:1 per class; each image's gray level tells its class.
    assert [np.bincount(arrays[f"y_{s}"]).tolist() for s in ("train", "val", "test")] == [[3] * 3, [1] * 3, [1] * 3]
    for s in ("train", "val", "test"):
        x, y = arrays[f"x_{s}"], arrays[f"y_{s}"]
        assert x.shape[1:] == (8, 8, 3)
        np.testing.assert_array_equal(np.round((x.mean(axis=(1, 2, 3)) - 50) / 50), y)


def dataset(name):
    return {**DATASET_ENTRY, "torchvision": name, "image_size": 8 if name == "Imagenette" else None}


@pytest.mark.parametrize("name", ARCHIVES)
def test_download_then_prepare_reads_the_published_format(tmp_path, server, monkeypatch, name):
    archive = serve(server, monkeypatch, name)
    out = tmp_path / "downloads" / "d"
    sources.download(name, out)
    assert (out / sources.TORCHVISION_MARKER).read_text() == f"{name}\n"
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == ["d"]  # no .partial left
    assert set(server.requests) == set(archive.files)  # every file came from the test server
    prepare(dataset(name), out, tmp_path / "data" / "d.npz")
    check_prepared(name, archive, tmp_path / "data" / "d.npz")


@pytest.mark.parametrize("name", ARCHIVES)
def test_a_cut_off_download_leaves_nothing_and_a_rerun_completes(tmp_path, server, monkeypatch, name):
    archive = serve(server, monkeypatch, name)
    first = next(iter(archive.files))
    server.cut.add(first)
    out = tmp_path / "downloads" / "d"
    with pytest.raises(DataError, match=rf"^{name}: .*{server.url}{first} .*; rerun to retry"):
        sources.download(name, out)  # Python 3.11's urllib reads the short body as complete; torchvision's md5 fails
    assert not (tmp_path / "downloads").exists() or not any((tmp_path / "downloads").iterdir())
    with pytest.raises(DataError, match="does not exist"):
        prepare(dataset(name), out, tmp_path / "data" / "d.npz")
    server.cut.clear()
    sources.download(name, out)
    prepare(dataset(name), out, tmp_path / "data" / "d.npz")
    check_prepared(name, archive, tmp_path / "data" / "d.npz")


def test_a_killed_download_is_started_afresh_not_taken_for_data(tmp_path, server, monkeypatch):
    """A kill mid-extraction leaves ``<out>.partial`` holding part of the tree, which torchvision's Imagenette
    would accept as downloaded (it checks only that the folder exists)."""
    archive = serve(server, monkeypatch, "Imagenette")
    out = tmp_path / "downloads" / "d"
    leftover = tmp_path / "downloads" / "d.partial" / "imagenette2-160" / "train" / IMAGENETTE_WNIDS[0]
    leftover.mkdir(parents=True)
    (leftover / "half.JPEG").write_bytes(jpeg(40))
    sources.download("Imagenette", out)
    assert server.requests.count("imagenette2-160.tgz") >= 1
    prepare(dataset("Imagenette"), out, tmp_path / "data" / "d.npz")
    check_prepared("Imagenette", archive, tmp_path / "data" / "d.npz")


@pytest.mark.parametrize("name", ARCHIVES)
def test_a_checksum_mismatch_names_the_dataset_and_the_url(tmp_path, server, name):
    files = ARCHIVES[name]().files  # served as published, checked against torchvision's real md5 sums
    server.files.update(files)
    first = next(iter(files))
    published = PUBLISHED_MD5[name]()
    out = tmp_path / "d"
    with pytest.raises(DataError) as error:
        sources.download(name, out)
    assert str(error.value) == (
        f"{name}: {server.url}{first} does not match its published md5 {published} (got {md5(files[first])}): "
        "the download was cut off or the server sent another file; rerun to retry"
    )
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ARCHIVES)
def test_offline_without_a_local_copy_names_bnlab_data_root(tmp_path, monkeypatch, name):
    mirror = f"http://127.0.0.1:{closed_port()}/"
    monkeypatch.setenv(sources.MIRROR_ENV, mirror)
    first = next(iter(ARCHIVES[name]().files))
    with pytest.raises(
        DataError,
        match=rf"^{name}: cannot download {mirror}{first} \(.*refused.*\); rerun to retry, "
        r"or offline set BNLAB_DATA_ROOT to a folder with local copies$",
    ):
        sources.download(name, tmp_path / "d")
    assert not any(tmp_path.iterdir())


def bnlab_download(tmp_path, mirror, name="CIFAR10"):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env[sources.MIRROR_ENV] = mirror
    return subprocess.run(
        [sys.executable, "-m", "bnlab.cli", "download", "--torchvision", name, "--out", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_cli_reports_a_checksum_mismatch_in_one_line(tmp_path, server):
    server.files.update(cifar10().files)
    run = bnlab_download(tmp_path, server.url)
    errors = [line for line in run.stderr.splitlines() if line.startswith("bnlab: error:")]
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert errors == [
        f"bnlab: error: CIFAR10: {server.url}cifar-10-python.tar.gz does not match its published md5 "
        f"{tvd.CIFAR10.tgz_md5} (got {md5(server.files['cifar-10-python.tar.gz'])}): the download was cut off or "
        "the server sent another file; rerun to retry"
    ]
    assert not any(tmp_path.iterdir())


def test_the_cli_offline_names_bnlab_data_root_in_one_line(tmp_path):
    run = bnlab_download(tmp_path, f"http://127.0.0.1:{closed_port()}/")
    errors = [line for line in run.stderr.splitlines() if line.startswith("bnlab: error:")]
    assert run.returncode == 1 and "Traceback" not in run.stderr and len(errors) == 1
    assert errors[0].startswith("bnlab: error: CIFAR10: cannot download http://127.0.0.1:")
    assert "offline set BNLAB_DATA_ROOT to a folder with local copies" in errors[0]
    assert not any(tmp_path.iterdir())
