"""The sparse-perturbation objective as a LightningModule, and the evaluation that reads latents out.

Loss terms (each logged under ``loss/<name>``; the total is their weighted sum):

* ``latent``: the perturbed object's slot must move by the offset, ``|z_k + b - z~_perm(k)|^2`` (slots) or
  ``|f(x) + b_full - f(x~)|^2`` with ``b`` placed at the perturbed object's index (flat, Ahuja et al.);
* ``similarity``: the other object slots stay put, ``|z_i - z~_perm(i)|^2`` (slots only);
* ``reconstruction``: the slot auto-encoder's reconstruction of x, and of x~ too with ``loss.pair_recon``
  (slots with a decoder).

The module has two phases: ``"autoencoder"`` (stage 1: the reconstruction of both frames only) and
``"finetune"`` (stage 2, or the only stage: the objective above).
"""

from __future__ import annotations

import dataclasses

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from intarsia.build import build

from .config import CRLJobConfig
from .matching import match, object_candidates
from .metrics import adjusted_rand_index, property_scores
from .networks import BroadcastDecoder, PropertyHeads


class CRLModule(L.LightningModule):
    def __init__(self, config: CRLJobConfig, phase: str = "finetune"):
        super().__init__()
        if phase not in ("autoencoder", "finetune"):
            raise ValueError(f"phase must be 'autoencoder' or 'finetune', got {phase!r}")
        self.config, self.phase = config, phase
        m, s = config.model, config.sprites
        self.num_objects, self.num_properties = s.num_objects, len(s.properties)
        if m.encoder not in ("slots", "flat"):
            raise ValueError(f"model.encoder must be 'slots' or 'flat', got {m.encoder!r}")
        # the encoder is the registered one (``crl-slots`` / ``crl-flat``), built by name like any component
        self.encoder = build("encoders", f"crl-{m.encoder}", {
            "image_size": s.image_size, "num_objects": s.num_objects, "num_properties": self.num_properties,
            "model": dataclasses.asdict(m)}).train()
        if m.encoder == "slots":
            self.heads = PropertyHeads(m.slot_dim, self.num_properties)
            self.decoder = (BroadcastDecoder(m.slot_dim, m.decoder_channels, s.image_size // m.recon_downsample,
                                             m.decoder_init_size)
                            if m.decoder else None)
        if config.loss.mechanism not in ("known", "unknown"):
            raise ValueError(f"loss.mechanism must be 'known' or 'unknown', got {config.loss.mechanism!r}")

    @property
    def is_slots(self) -> bool:
        return self.config.model.encoder == "slots"

    def offsets(self, b: torch.Tensor) -> torch.Tensor:
        """The mechanism the objective sees: the offset, or (unknown) only its property and sign."""
        if self.config.loss.mechanism == "known":
            return b
        return torch.sign(b) * self.config.loss.unknown_step

    def encode_pair(self, x1: torch.Tensor, x2: torch.Tensor):
        slots1, attn1 = self.encoder.encode(x1)
        slots2, attn2 = self.encoder.encode(x2, slots1 if self.config.loss.share_slot_init else None)
        return slots1, attn1, slots2, attn2

    def reconstruction(self, slots: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        recon, _ = self.decoder(slots)
        target = F.avg_pool2d(x, m) if (m := self.config.model.recon_downsample) > 1 else x
        return F.mse_loss(recon, target)

    def loss_terms(self, batch: dict) -> dict[str, torch.Tensor]:
        x1, x2, b = batch["x1"], batch["x2"], self.offsets(batch["b"])
        if self.phase == "autoencoder":
            slots1, _, slots2, _ = self.encode_pair(x1, x2)
            recon = self.reconstruction(slots1, x1) + self.reconstruction(slots2, x2)
            # the heads take no part in stage 1; a zero term keeps every parameter in the graph, as DDP's
            # gradient reduction needs
            return {"reconstruction": recon + 0.0 * self.heads(slots1).sum()}
        if not self.is_slots:
            f1, f2 = self.encoder(x1), self.encoder(x2)
            b_full = torch.zeros(len(b), self.num_objects, self.num_properties, device=b.device)
            b_full[torch.arange(len(b)), batch["obj"]] = b
            return {"latent": F.mse_loss(f1 + b_full.flatten(1), f2)}
        slots1, attn1, slots2, _ = self.encode_pair(x1, x2)
        z1, z2 = self.heads(slots1), self.heads(slots2)
        cand = object_candidates(attn1, self.num_objects, self.config.loss.exclude_background)
        lc = self.config.loss
        k, perm = match(z1, z2, b, cand, lc.matching, lc.matching_cost)
        rows = torch.arange(len(b), device=b.device)
        sq = (z1[rows, k] + b - z2[rows, perm[rows, k]]).pow(2)
        if lc.matching_cost == "changed":  # the official known-action cost: the changed property only
            w = (b != 0).to(sq.dtype)
            terms = {"latent": ((sq * w).sum(-1) / w.sum(-1).clamp_min(1)).mean()}
        else:
            terms = {"latent": sq.mean()}
        others = cand.clone()
        others[rows, k] = False
        if others.any():
            diff = (z1 - torch.gather(z2, 1, perm.unsqueeze(-1).expand_as(z2))).pow(2).mean(-1)
            terms["similarity"] = diff[others].mean()
        if self.decoder is not None:
            terms["reconstruction"] = self.reconstruction(slots1, x1)
            if lc.pair_recon:
                terms["reconstruction"] = terms["reconstruction"] + self.reconstruction(slots2, x2)
        return terms

    def weights(self) -> dict[str, float]:
        lc = self.config.loss
        if self.phase == "autoencoder":
            return {"reconstruction": 1.0}
        ramp = 1.0
        if lc.latent_warmup_steps > 0:
            ramp = min(1.0, self.global_step / lc.latent_warmup_steps)
        return {"latent": lc.w_latent * ramp, "similarity": lc.w_similarity, "reconstruction": lc.w_recon}

    def training_step(self, batch, _):
        terms = self.loss_terms(batch)
        w = self.weights()
        total = sum(w[k] * v for k, v in terms.items())
        self.log_dict({f"loss/{k}": v.detach() for k, v in terms.items()}, on_step=True, on_epoch=False)
        self.log("loss/total", total.detach(), on_step=True, on_epoch=False)
        return total

    def configure_optimizers(self):
        t = self.config.pretrain if self.phase == "autoencoder" else self.config.train
        return torch.optim.AdamW(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)


class PairData(torch.utils.data.Dataset):
    """Rows of the in-memory pair tensors (see :func:`intarsia_crl.sprites.to_tensors`)."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors["obj"])

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.tensors.items()}

    def __getitems__(self, idx):  # one indexing per batch, not one per row
        idx = torch.as_tensor(idx)
        return {k: v[idx] for k, v in self.tensors.items()}


def _identity(batch):
    return batch


def loader(tensors: dict[str, torch.Tensor], batch_size: int, *, shuffle: bool, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(PairData(tensors), batch_size=batch_size, shuffle=shuffle,
                                       collate_fn=_identity, generator=gen)


def slot_masks(module: CRLModule, slots: torch.Tensor, attn: torch.Tensor, size: int) -> torch.Tensor:
    """Each slot's mask at the image's resolution ``(B, S, size, size)``: the decoder's (upsampled), or the
    attention over the token grid without a decoder."""
    masks = module.decoder(slots)[1] if module.decoder is not None else attn
    if masks.shape[-1] != size:
        masks = F.interpolate(masks, size=(size, size), mode="bilinear", align_corners=False)
    return masks


def object_slots(masks: torch.Tensor, labels: torch.Tensor, num_objects: int) -> torch.Tensor:
    """For every ground-truth object, the slot whose mask overlaps its segment most (the official
    ``use_all_balls_mcc`` matching: argmax over slots of the summed squared mask on the segment): ``(B, k)``."""
    seg = torch.stack([labels == i + 1 for i in range(num_objects)], dim=1).to(masks.dtype)  # (B, k, H, W)
    overlap = torch.einsum("bkhw,bshw->bks", seg, masks.pow(2))
    return overlap.argmax(dim=-1)


@torch.no_grad()
def read_latents(module: CRLModule, tensors: dict[str, torch.Tensor], batch_size: int = 256) -> dict[str, np.ndarray]:
    """The learned latents next to the true ones, on held-out pairs.

    ``true``, ``learned`` ``(N, num_objects * P)``: every object's true properties on x, in object order, and
    (slots) the projections of the slots matched to the objects by their masks against the ground-truth
    segmentation (the official ``use_all_balls_mcc``), or (flat) ``f(x)``. Slots also give ``true_perturbed``,
    ``learned_perturbed`` ``(N, P)``: the slot the objective matches as the perturbed one, its projection on x~
    against the true properties of the object that moved (the official ``use_all_balls_mcc: false``), and
    ``ari``, ``fg_ari`` (the masks against the ground truth, background included or not) and ``attn`` /
    ``masks`` / ``recon`` of the first batch.
    """
    was_training = module.training
    module.eval()
    dev = module.device
    out: dict[str, list] = {"true": [], "learned": [], "true_perturbed": [], "learned_perturbed": []}
    extra: dict = {}
    ari_sum = fg_sum = 0.0
    n = len(tensors["obj"])
    lc = module.config.loss
    for start in range(0, n, batch_size):
        batch = {k: v[start:start + batch_size].to(dev) for k, v in tensors.items()}
        rows = torch.arange(len(batch["obj"]), device=dev)
        out["true"].append(batch["z1"].flatten(1).cpu())
        if module.is_slots:
            slots1, attn1, slots2, _ = module.encode_pair(batch["x1"], batch["x2"])
            z1, z2 = module.heads(slots1), module.heads(slots2)
            cand = object_candidates(attn1, module.num_objects, lc.exclude_background)
            k, perm = match(z1, z2, module.offsets(batch["b"]), cand, lc.matching, lc.matching_cost)
            out["learned_perturbed"].append(z2[rows, perm[rows, k]].cpu())
            out["true_perturbed"].append(batch["z2"][rows, batch["obj"]].cpu())
            masks = slot_masks(module, slots1, attn1, batch["x1"].shape[-1])
            if "m1" in batch:
                which = object_slots(masks, batch["m1"], module.num_objects)
                out["learned"].append(torch.gather(z1, 1, which[..., None].expand(-1, -1, z1.shape[-1])).flatten(1).cpu())
                pred = masks.argmax(dim=1)
                ari_sum += adjusted_rand_index(batch["m1"], pred) * len(rows)
                fg_sum += adjusted_rand_index(batch["m1"], pred, foreground=True) * len(rows)
            if start == 0:
                extra["attn"] = attn1.cpu().numpy()
                extra["perturbed_slot"] = k.cpu().numpy()
                if module.decoder is not None:
                    recon, dmasks = module.decoder(slots1)
                    extra["masks"], extra["recon"] = dmasks.cpu().numpy(), recon.cpu().numpy()
        else:
            out["learned"].append(module.encoder(batch["x1"]).cpu())
    module.train(was_training)
    result = {key: torch.cat(v).numpy() for key, v in out.items() if v}
    if module.is_slots and "m1" in tensors:
        result["ari"], result["fg_ari"] = ari_sum / n, fg_sum / n
    return {**result, **extra}


def latent_scores(module: CRLModule, lat: dict) -> dict[str, float]:
    """The report's metrics from :func:`read_latents`: the all-balls ``mcc``, ``mcc_spearman``, ``r2`` and per
    property; for slots also ``mcc_perturbed``, ``r2_perturbed`` (the perturbed slot) and ``ari``, ``fg_ari``."""
    props = list(module.config.sprites.properties)
    out: dict[str, float] = {}
    if "learned" in lat:
        out.update(property_scores(lat["true"], lat["learned"], props * module.num_objects))
    if module.is_slots:
        pert = property_scores(lat["true_perturbed"], lat["learned_perturbed"], props)
        out["mcc_perturbed"], out["r2_perturbed"] = pert["mcc"], pert["r2"]
        for key in ("ari", "fg_ari"):
            if key in lat:
                out[key] = float(lat[key])
    return out


def column_properties(config: CRLJobConfig) -> list[str]:
    """The property of each column of ``read_latents``'s ``true`` / ``learned`` (object-major)."""
    return list(config.sprites.properties) * config.sprites.num_objects
