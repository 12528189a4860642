"""InceptionV3 as the FID feature network, loading a weights file the user provides.

Architecture: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
CVPR 2016 (Fig. 5-7 and Table 1): a convolutional stem, three 35x35 "A" modules, a grid
reduction "B", four 17x17 "C" modules with factorised 1x7 / 7x1 convolutions, a reduction "D",
two 8x8 "E" modules with expanded 1x3 / 3x1 filter banks, global average pooling to 2048
features. Every convolution is conv (no bias) + batch norm (eps 1e-3) + ReLU.

FID uses the 2015-12-05 TensorFlow graph of Heusel et al. 2017. Its PyTorch port (the
``pt_inception-2015-12-05-6726825d.pth`` file of the pytorch-fid project) differs from the
paper's network in three known ways, reproduced here: average pools inside A, C and E modules
exclude the zero padding from the mean; the last E module pools its side branch with a max
pool; the classifier has 1008 outputs. Inputs are resized to 299x299 bilinearly and taken in
[-1, 1]. Parameter names follow the usual ``Conv2d_1a_3x3.conv.weight`` / ``Mixed_5b.branch1x1
.bn.running_mean`` layout so that such a state dict can load strictly.

What is verified (tests/metrics/test_metrics_extractors.py): shapes, a strict load/save round
trip through safetensors, the sha256 check, clear errors for wrong files. What is NOT verified
here, since the real file is not available offline: that the real weights load and reproduce
the reference FID values of the TensorFlow implementation. Treat Inception FIDs from this module
as comparable with each other, and check them against a reference implementation before
comparing with published numbers.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from gankit.errors import ConfigError, DataError

FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)
FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
#: The file name carries the first 8 hex digits of the file's sha256 (the torch.hub naming
#: convention); the full digest could not be established offline, so only the prefix is pinned.
FID_WEIGHTS_SHA256_PREFIX = "6726825d"
INPUT_SIZE = 299
NUM_LOGITS = 1008
FEATURE_DIM = 2048
MIN_INPUT_SIZE = 75  # smallest side the stem and the three stride-2 reductions accept


class BasicConv2d(nn.Module):
    """conv (no bias) -> BN (eps 0.001, as in the TensorFlow graph) -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: Tensor) -> Tensor:
    # The FID graph's 3x3 average pools ignore the zero padding at the borders.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 module (Fig. 5): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1."""

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg3(x)),
            ],
            1,
        )  # (N, 224 + pool_features, H, W)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17 (Fig. 10): stride-2 3x3 | 1x1-3x3-3x3/2 | max pool."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )  # (N, 480 + c_in, H', W')


class InceptionC(nn.Module):
    """17x17 module (Fig. 6) with n x n convolutions factorised into 1x7 and 7x1."""

    def __init__(self, c_in: int, c7: int):
        super().__init__()
        row, col = (
            dict(kernel_size=(1, 7), padding=(0, 3)),
            dict(kernel_size=(7, 1), padding=(3, 0)),
        )
        self.branch1x1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, 192, **col)
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, **row)
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        dbl = self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x)))
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                self.branch7x7dbl_5(self.branch7x7dbl_4(dbl)),
                self.branch_pool(_avg3(x)),
            ],
            1,
        )  # (N, 768, H, W)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | max pool."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        return torch.cat(
            [
                self.branch3x3_2(self.branch3x3_1(x)),
                self.branch7x7x3_4(self.branch7x7x3_3(b7)),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )  # (N, 512 + c_in, H', W')


class InceptionE(nn.Module):
    """8x8 module (Fig. 7): expanded 1x3 / 3x1 filter banks; ``max_pool`` for the last one."""

    def __init__(self, c_in: int, max_pool: bool = False):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(c_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_1(x)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(b3),
                self.branch3x3_2b(b3),
                self.branch3x3dbl_3a(dbl),
                self.branch3x3dbl_3b(dbl),
                self.branch_pool(pooled),
            ],
            1,
        )  # (N, 2048, H, W)


class InceptionV3Features(nn.Module):
    """[-1, 1] images of any size -> (pool features (N, 2048), logits (N, 1008))."""

    def __init__(self, input_size: int = INPUT_SIZE):
        super().__init__()
        if input_size < MIN_INPUT_SIZE:
            raise ConfigError(
                f"InceptionV3 needs inputs of at least {MIN_INPUT_SIZE}px, got {input_size}"
            )
        self.input_size = input_size
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, NUM_LOGITS)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (N, 64, 147, 147)
        x = F.max_pool2d(x, 3, stride=2)  # (N, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (N, 192, 71, 71)
        x = F.max_pool2d(x, 3, stride=2)  # (N, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (N, 288, 35, 35)
        x = self.Mixed_6a(x)  # (N, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # (N, 2048, 8, 8)
        features = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # (N, 2048)
        return features, self.fc(features)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str) -> str:
    """The file's sha256; raises DataError unless it starts with ``expected`` (a full digest
    or a prefix such as the one in a torch.hub-style file name)."""
    actual = file_sha256(path)
    if not actual.startswith(expected.lower()):
        raise DataError(
            f"{path} has sha256 {actual}, expected {expected}...; the file is "
            "corrupt or not the expected weights: download it again"
        )
    return actual


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Tensors from ``.safetensors``, or from a PyTorch ``.pth`` zip read with
    ``weights_only=True`` (tensors only: no code in the file can run)."""
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, SafetensorError, RuntimeError, ValueError, EOFError) as exc:
        raise DataError(
            f"cannot read weights {path} ({exc}); give a .safetensors or .pth "
            "state dict of InceptionV3"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DataError(f"{path} is not a flat state dict of tensors")
    return state


def load_inception(
    path: str | os.PathLike, sha256: str | None = None, input_size: int = INPUT_SIZE
) -> InceptionV3Features:
    """InceptionV3 with the weights in ``path``, strictly matched; checks ``sha256`` (a full
    digest or a prefix) when given, and the pytorch-fid prefix when the file has its name.
    The file's full sha256 is kept as ``net.weights_sha256``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(
            f"InceptionV3 weights {path} not found; give the path of "
            f"{FID_WEIGHTS_NAME} (or a .safetensors copy)"
        )
    if sha256 is None and path.name == FID_WEIGHTS_NAME:
        sha256 = FID_WEIGHTS_SHA256_PREFIX
    digest = check_sha256(path, sha256 or "")  # "" accepts any file but still hashes it
    net = InceptionV3Features(input_size)
    net.weights_sha256 = digest  # names the weights in the reference-statistics cache key
    state = read_state_dict(path)
    # Old-style BN state dicts lack num_batches_tracked, which inference never reads.
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise DataError(
            f"{path} does not fit InceptionV3 ({len(missing)} missing keys, e.g. "
            f"{missing[:2]}; {len(unexpected)} unexpected, e.g. {unexpected[:2]})"
        )
    return net.eval()


def default_weights() -> str:
    """``$GANKIT_INCEPTION_WEIGHTS``, else the downloaded file in the cache, else an error."""
    if env := os.environ.get("GANKIT_INCEPTION_WEIGHTS"):
        return env
    from gankit.metrics.classifier import cache_root

    cached = cache_root() / "extractors" / "inception" / FID_WEIGHTS_NAME
    if cached.is_file():
        return str(cached)
    raise DataError(
        "no InceptionV3 weights: use --extractor inception:PATH, set GANKIT_INCEPTION_WEIGHTS, "
        "or run `gankit extractor download-inception` on a machine with internet"
    )


def download_inception(dest_dir: str | os.PathLike | None = None) -> Path:
    """Fetch the pytorch-fid weights into the cache, keeping them only if the sha256 prefix in
    the file name matches (so a truncated or altered download never lands)."""
    from urllib.error import URLError
    from urllib.request import urlopen

    from gankit.metrics.classifier import cache_root

    folder = Path(dest_dir) if dest_dir else cache_root() / "extractors" / "inception"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / FID_WEIGHTS_NAME
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urlopen(FID_WEIGHTS_URL, timeout=60) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        check_sha256(Path(tmp), FID_WEIGHTS_SHA256_PREFIX)
        os.replace(tmp, dest)
    except (URLError, OSError) as exc:
        raise DataError(
            f"could not download {FID_WEIGHTS_URL} ({exc}); fetch it elsewhere "
            f"and pass --extractor inception:PATH"
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest
