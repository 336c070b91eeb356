"""The networks: the slot encoder (CNN -> Slot Attention), the per-property projection heads, the slot
auto-encoder's spatial-broadcast decoder, and the flat baseline encoder. The registered encoders
(``encoders`` kind) are :class:`SlotEncoder` and :class:`FlatEncoder`."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig
from .slot_attention import SlotAttention


def _grid(height: int, width: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    return torch.stack([xs, ys, 1 - xs, 1 - ys], dim=-1)  # (H, W, 4)


class SoftPositionEmbed(nn.Module):
    """Adds a learned linear map of the (x, y, 1-x, 1-y) grid to channels-last features."""

    def __init__(self, channels: int, height: int, width: int):
        super().__init__()
        self.proj = nn.Linear(4, channels)
        self.register_buffer("grid", _grid(height, width), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(self.grid)


def num_slots(config: ModelConfig, num_objects: int) -> int:
    return config.num_slots or num_objects + 1


class SlotEncoder(nn.Module):
    """Images ``(B, 3, H, W)`` in [0, 1] -> slots ``(B, S, slot_dim)`` (the registered encoder's output).

    ``encode`` also returns the attention ``(B, S, H', W')`` over the CNN's token grid and accepts
    ``slots_init`` (to start the second image of a pair from the first one's slots)."""

    def __init__(self, config: ModelConfig, *, image_size: int, num_objects: int):
        super().__init__()
        h = config.hidden_dim
        layers: list[nn.Module] = [nn.Conv2d(3, h, 5, stride=config.cnn_stride, padding=2), nn.ReLU()]
        for _ in range(config.cnn_layers - 1):
            layers += [nn.Conv2d(h, h, config.kernel_size, padding=config.kernel_size // 2), nn.ReLU()]
        self.cnn = nn.Sequential(*layers)
        self.grid_size = math.ceil(image_size / config.cnn_stride)
        self.pos = SoftPositionEmbed(h, self.grid_size, self.grid_size)
        self.mlp = nn.Sequential(nn.LayerNorm(h), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, h))
        self.slot_attention = SlotAttention(
            h, config.slot_dim, num_slots(config, num_objects), iterations=config.iterations, mlp_dim=h,
            variant=config.slot_attention, mesh_iters=config.mesh_iters, mesh_lr=config.mesh_lr,
            sinkhorn_iters=config.sinkhorn_iters, eval_seed=config.eval_seed)
        self.image_shape = (3, image_size, image_size)
        self.output_shape = (self.slot_attention.num_slots, config.slot_dim)

    def encode(self, images: torch.Tensor, slots_init: torch.Tensor | None = None):
        feats = self.cnn(images).permute(0, 2, 3, 1)  # (B, H', W', C)
        tokens = self.mlp(self.pos(feats)).flatten(1, 2)
        slots, attn = self.slot_attention(tokens, slots_init)
        return slots, attn.view(attn.shape[0], attn.shape[1], self.grid_size, self.grid_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encode(images)[0]


class PropertyHeads(nn.Module):
    """One small MLP per latent property, slot -> scalar (the official separate projection heads)."""

    def __init__(self, slot_dim: int, num_properties: int):
        super().__init__()
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(slot_dim, slot_dim // 2), nn.ReLU(), nn.Linear(slot_dim // 2, 1))
            for _ in range(num_properties))

    def forward(self, slots: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(slots) for head in self.heads], dim=-1)


class BroadcastDecoder(nn.Module):
    """Spatial-broadcast decoder: each slot is tiled on a small grid, upsampled to the image and decoded to
    RGB + a mask logit; masks are a softmax over slots and the image is their mixture."""

    def __init__(self, slot_dim: int, channels: int, image_size: int, init_size: int):
        super().__init__()
        ups = int(round(math.log2(image_size / init_size)))
        if init_size * 2 ** ups != image_size:
            raise ValueError(f"model.decoder_init_size {init_size} times a power of 2 must equal the image size {image_size}")
        self.init_size = init_size
        self.pos = SoftPositionEmbed(slot_dim, init_size, init_size)
        layers: list[nn.Module] = [nn.Conv2d(slot_dim, channels, 5, padding=2), nn.ReLU()]
        for _ in range(ups):
            layers += [nn.ConvTranspose2d(channels, channels, 5, stride=2, padding=2, output_padding=1), nn.ReLU()]
        layers += [nn.Conv2d(channels, 4, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, slots: torch.Tensor):
        b, s, d = slots.shape
        x = slots.reshape(b * s, 1, 1, d).expand(-1, self.init_size, self.init_size, -1)
        x = self.net(self.pos(x).permute(0, 3, 1, 2))
        x = x.view(b, s, 4, *x.shape[-2:])
        rgb, masks = x[:, :, :3], x[:, :, 3:].softmax(dim=1)
        return (rgb * masks).sum(dim=1), masks.squeeze(2)  # (B, 3, H, W), (B, S, H, W)


class FlatEncoder(nn.Module):
    """The flat baseline: one image -> one vector of ``num_objects * num_properties`` latents (a CNN or
    ResNet-18 trunk, then one linear head per latent, as the official CNN encoder)."""

    def __init__(self, config: ModelConfig, *, image_size: int, num_objects: int, num_properties: int):
        super().__init__()
        h, width = config.hidden_dim, config.flat_width
        if config.flat_arch == "cnn":
            layers: list[nn.Module] = []
            c_in, size = 3, image_size
            while size > 4:  # stride-2 convolutions down to 4 x 4: keeps where things are, unlike global pooling
                layers += [nn.Conv2d(c_in, h, 5 if c_in == 3 else 3, stride=2, padding=2 if c_in == 3 else 1), nn.ReLU()]
                c_in, size = h, (size + 1) // 2
            self.trunk = nn.Sequential(*layers, nn.Flatten(), nn.Linear(h * size * size, width), nn.LeakyReLU())
        elif config.flat_arch == "resnet18":
            try:
                from torchvision.models import resnet18
            except ImportError as err:
                raise ImportError("model.flat_arch=resnet18 needs torchvision: pip install 'intarsia-crl[resnet]'") from err
            net = resnet18(num_classes=width)
            self.trunk = nn.Sequential(net, nn.LeakyReLU())
        else:
            raise ValueError(f"model.flat_arch must be 'cnn' or 'resnet18', got {config.flat_arch!r}")
        self.heads = nn.ModuleList(nn.Linear(width, 1, bias=False) for _ in range(num_objects * num_properties))
        self.num_objects, self.num_properties = num_objects, num_properties
        self.image_shape = (3, image_size, image_size)
        self.output_shape = (num_objects * num_properties,)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.trunk(images)
        return torch.cat([head(feats) for head in self.heads], dim=-1)
