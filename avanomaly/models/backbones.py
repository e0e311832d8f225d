"""Per-window encoders. Visual: (N, 5, S, S) -> (N, dim) (the 5 mouth frames of a window as channels).
Audio: (N, 1, 20, M) -> (N, dim) (20 mel frames x M bins of a window as a 1-channel image).

Registered names (``list_backbones('visual')`` / ``list_backbones('audio')``):
  visual: syncnet_small (default), efficientnet_b0 (efficientnet-pytorch, random init, no download),
          mobilenet_v3_small (only when torchvision imports);
          lips_tcn: (N, 5, F) per-frame feature vectors (the landmark front end's lip features) -> (N, dim)
  audio:  audio_small (default), audio_efficientnet_b0
"""

from __future__ import annotations

import torch.nn as nn

from avanomaly.models.registry import register_backbone

VISUAL_WINDOW = 5  # mouth frames per sync window (t-2 .. t+2)
AUDIO_WINDOW = 20  # mel frames per sync window (0.2 s)


def _conv_bn(cin: int, cout: int, k, stride=1) -> nn.Sequential:
    pad = tuple(x // 2 for x in k) if isinstance(k, tuple) else k // 2
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SyncNetSmallVisual(nn.Module):
    """Small SyncNet-like 2D CNN over 5 stacked grayscale frames. Any crop size >= 16 (global pooling)."""

    def __init__(self, dim: int = 128, width: int = 32, in_channels: int = VISUAL_WINDOW):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(in_channels, w, 5, 2),  # S/2
            _conv_bn(w, 2 * w, 3, 2),  # S/4
            _conv_bn(2 * w, 2 * w, 3, 1),
            _conv_bn(2 * w, 4 * w, 3, 2),  # S/8
            _conv_bn(4 * w, 4 * w, 3, 1),
            _conv_bn(4 * w, 8 * w, 3, 2),  # S/16
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(8 * w, dim)

    def forward(self, x):
        # x: (N, 5, S, S) -> (N, dim)
        return self.head(self.features(x).flatten(1))


class AudioSmall(nn.Module):
    """Small VGG-like CNN over a (20 mel frames x M bins) log-mel window."""

    def __init__(self, dim: int = 128, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(1, w, 3),  # (20, M)
            nn.MaxPool2d((1, 2)),  # (20, M/2)
            _conv_bn(w, 2 * w, 3, (2, 2)),  # (10, M/4)
            _conv_bn(2 * w, 4 * w, 3, (2, 2)),  # (5, M/8)
            _conv_bn(4 * w, 4 * w, 3, 1),
            _conv_bn(4 * w, 8 * w, 3, (1, 2)),  # (5, M/16)
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(8 * w, dim)

    def forward(self, x):
        # x: (N, 1, 20, M) -> (N, dim)
        return self.head(self.features(x).flatten(1))


class LipTemporalConv(nn.Module):
    """1-D temporal convolutions over the 5 frames of a window of per-frame feature vectors (lip landmarks)."""

    def __init__(self, dim: int = 128, width: int = 32, in_features: int = 98):
        super().__init__()
        h = 4 * width
        self.features = nn.Sequential(
            nn.Conv1d(in_features, h, 3, padding=1, bias=False), nn.BatchNorm1d(h), nn.ReLU(inplace=True),
            nn.Conv1d(h, h, 3, padding=1, bias=False), nn.BatchNorm1d(h), nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(h * VISUAL_WINDOW, dim)

    def forward(self, x):
        # x: (N, 5, F) -> (N, dim)
        return self.head(self.features(x.transpose(1, 2)).flatten(1))


@register_backbone("visual", "lips_tcn", input="features")
def lips_tcn(dim: int = 128, width: int = 32, in_features: int = 0, **_):
    if in_features < 1:
        from avanomaly.errors import ConfigError

        raise ConfigError("visual backbone 'lips_tcn' needs per-frame feature vectors: set sync.in_features "
                          "(98 for the landmarks front end)")
    return LipTemporalConv(dim=dim, width=width, in_features=in_features)


@register_backbone("visual", "syncnet_small")
def syncnet_small(dim: int = 128, width: int = 32, **_):
    return SyncNetSmallVisual(dim=dim, width=width)


@register_backbone("audio", "audio_small")
def audio_small(dim: int = 128, width: int = 32, **_):
    return AudioSmall(dim=dim, width=width)


def _efficientnet(dim: int, in_channels: int, image_size):
    from avanomaly.utils import require_module

    EfficientNet = require_module("efficientnet_pytorch", "efficientnet", "the efficientnet_b0 backbones").EfficientNet

    # from_name builds the architecture with random weights; nothing is downloaded. image_size sets the static
    # "same" padding of every conv for this input size (the default assumes 224x224).
    return EfficientNet.from_name("efficientnet-b0", in_channels=in_channels, num_classes=dim, image_size=image_size)


@register_backbone("visual", "efficientnet_b0")
def efficientnet_b0(dim: int = 128, crop_size: int = 64, **_):
    return _efficientnet(dim, VISUAL_WINDOW, crop_size)


@register_backbone("audio", "audio_efficientnet_b0")
def audio_efficientnet_b0(dim: int = 128, n_mels: int = 80, **_):
    return _efficientnet(dim, 1, (AUDIO_WINDOW, n_mels))


def _torchvision_available() -> bool:
    try:
        import torchvision.models  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken torchvision install counts as absent
        return False
    return True


if _torchvision_available():

    @register_backbone("visual", "mobilenet_v3_small")
    def mobilenet_v3_small(dim: int = 128, **_):
        import torchvision.models as tvm

        net = tvm.mobilenet_v3_small(weights=None, num_classes=dim)
        first = net.features[0][0]
        net.features[0][0] = nn.Conv2d(VISUAL_WINDOW, first.out_channels, first.kernel_size, first.stride,
                                       first.padding, bias=False)
        return net
