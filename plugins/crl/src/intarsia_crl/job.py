"""The ``crl`` job: generate pairs -> train an encoder on the sparse-perturbation objective -> evaluate.

Run directory::

    config.yaml                 the resolved config (written by the runner)
    checkpoints/                the fit's checkpoints in the run's store, every epoch by default
                                (``checkpoint.every``; ``intarsia resume`` continues the fit)
    logs/metrics.csv            loss terms per step (and held-out MCC every ``train.eval_every`` epochs)
    encoder.pt                  the trained encoder (build it with ``build("encoders", "crl-slots", ...)``)
    latents.png, slots.png      learned latents against the truth; slot attention and decoder masks
    report.json                 ``steps`` in optimizer steps; ``metrics``: mcc, mcc_spearman, r2 and
                                mcc_<p>, r2_<p> per property

Where to run is the ``fabric:`` section (``fabric.accelerator``, ``fabric.devices``, ``fabric.precision``).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from .config import CRLJobConfig


def _validate(config: CRLJobConfig) -> None:
    from intarsia.errors import ConfigError

    from .config import PROPERTIES

    s, m, lc = config.sprites, config.model, config.loss
    choices = {"model.encoder": (m.encoder, ("slots", "flat")), "model.slot_attention": (m.slot_attention, ("mesh", "softmax")),
               "model.flat_arch": (m.flat_arch, ("cnn", "resnet18")), "loss.matching": (lc.matching, ("hungarian", "argmin")),
               "loss.mechanism": (lc.mechanism, ("known", "unknown"))}
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    unknown = sorted(set(s.properties) - set(PROPERTIES))
    if unknown or not s.properties:
        raise ConfigError(f"sprites.properties: unknown or none {unknown}; choose from {', '.join(PROPERTIES)}")
    if s.num_objects < 1:
        raise ConfigError(f"sprites.num_objects must be >= 1, got {s.num_objects}")
    if m.encoder == "slots" and m.decoder:
        target = s.image_size // m.recon_downsample
        if target % m.decoder_init_size or (target // m.decoder_init_size) & (target // m.decoder_init_size - 1):
            raise ConfigError(f"model.decoder_init_size ({m.decoder_init_size}) times a power of 2 must equal "
                              f"sprites.image_size / model.recon_downsample ({target})")
    if s.image_size < 8:
        raise ConfigError(f"sprites.image_size must be at least 8, got {s.image_size}")
    if m.encoder == "slots" and m.num_slots and m.num_slots < s.num_objects:
        raise ConfigError(f"model.num_slots ({m.num_slots}) must be at least sprites.num_objects ({s.num_objects})")
    if s.num_pairs < 1 or s.val_pairs < 4:
        raise ConfigError("sprites.num_pairs must be >= 1 and sprites.val_pairs >= 4")


class _HeldOutMCC:
    """A Lightning callback logging the held-out MCC every ``every`` epochs (a learning curve)."""

    def __new__(cls, tensors, every, names):
        import lightning as L

        from .metrics import mcc
        from .training import read_latents

        class Callback(L.Callback):
            def on_train_epoch_end(self, trainer, module):
                if every and (trainer.current_epoch + 1) % every == 0:
                    lat = read_latents(module, tensors)
                    module.log("val/mcc", mcc(lat["true"], lat["learned"]))

        return Callback()


def run_crl(config: CRLJobConfig, *, run) -> dict:
    """The job factory: ``factory(config, *, run)`` -> report dict."""
    import lightning as L

    from .encoders import save_encoder
    from .metrics import property_scores
    from .plots import latents_figure, slots_figure
    from .sprites import make_pairs, to_tensors
    from .training import CRLModule, column_properties, loader, read_latents

    _validate(config)
    t0 = time.perf_counter()
    root = Path(run.dir)
    t = config.train
    callbacks = []
    s = config.sprites
    train_t = to_tensors(make_pairs(s, s.num_pairs, config.seed))
    val_t = to_tensors(make_pairs(s, s.val_pairs, config.seed + 1))
    data_seconds = time.perf_counter() - t0

    names = column_properties(config)
    if t.eval_every:
        callbacks.append(_HeldOutMCC(val_t, t.eval_every, names))
    trainer = run.trainer(config, callbacks=callbacks, max_epochs=t.epochs, log_every_n_steps=10,
                          max_time=timedelta(minutes=t.max_minutes) if t.max_minutes else None)
    L.seed_everything(config.seed, workers=False, verbose=False)
    module = CRLModule(config)
    t_fit = time.perf_counter()
    run.fit(trainer, module, loader(train_t, t.batch_size, shuffle=True, seed=config.seed))
    fit_seconds = time.perf_counter() - t_fit

    lat = read_latents(module, val_t)
    metrics = property_scores(lat["true"], lat["learned"], names)
    artifacts = ["config.yaml", "logs/metrics.csv"]
    if trainer.is_global_zero:
        save_encoder(root / "encoder.pt", module.encoder, kind=config.model.encoder, model=config.model,
                     image_size=s.image_size, num_objects=s.num_objects, properties=list(s.properties),
                     heads=getattr(module, "heads", None))
        artifacts.append("encoder.pt")
        if config.plots:
            latents_figure(lat["true"], lat["learned"], names, root / "latents.png",
                           title=f"{config.name}: MCC {metrics['mcc']:.3f}")
            artifacts.append("latents.png")
            if "attn" in lat:
                slots_figure(val_t["x1"][: len(lat["attn"])].numpy(), lat["attn"], root / "slots.png",
                             lat.get("masks"), lat.get("recon"))
                artifacts.append("slots.png")
    return run.report(
        steps=int(trainer.global_step), unit="optimizer steps", metrics=metrics,
        training={"epochs": int(trainer.current_epoch), "data_seconds": round(data_seconds, 2),
                  "fit_seconds": round(fit_seconds, 2),
                  "stopped_by_time_limit": bool(t.max_minutes) and trainer.current_epoch < t.epochs},
        artifacts=artifacts, seconds=time.perf_counter() - t0)
