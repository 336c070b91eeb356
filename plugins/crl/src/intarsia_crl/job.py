"""The ``crl`` job: generate pairs -> train an encoder on the sparse-perturbation objective -> evaluate.

Run directory::

    config.yaml                 the resolved config (written by the runner)
    stages/<stage>.json         a finished stage's result (``intarsia resume`` skips it)
    checkpoints/[<stage>/]      the fits' checkpoints in the run's store, every epoch by default
                                (``checkpoint.every``; ``intarsia resume`` continues an unfinished fit)
    logs/[<stage>/]metrics.csv  loss terms per step (held-out MCC / ARI every ``eval_every`` epochs)
    autoencoder.pt              stage 1's slot auto-encoder (``init_from`` of another run can name it)
    model.pt                    the trained module (encoder, heads, decoder)
    encoder.pt                  the trained encoder (build it with ``build("encoders", "crl-slots", ...)``)
    latents.png, slots.png      learned latents against the truth; slot attention and decoder masks
    report.json                 ``steps`` in optimizer steps of the last stage; ``metrics``: the all-balls
                                mcc, mcc_spearman, r2 and mcc_<p>, r2_<p> per property; slots also
                                mcc_perturbed, r2_perturbed, ari, fg_ari; ``training.stages``: each stage

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
    if m.encoder == "slots" and (config.pretrain.epochs > 0 or config.init_from) and not m.decoder:
        raise ConfigError("pretrain.epochs / init_from: the slot auto-encoder stage needs model.decoder=true")
    if m.encoder != "slots" and (config.pretrain.epochs > 0 or config.init_from):
        raise ConfigError("pretrain.epochs / init_from: only the slot encoder has an auto-encoder stage "
                          f"(model.encoder is {m.encoder!r})")


class _HeldOut:
    """A Lightning callback logging held-out metrics every ``every`` epochs (learning curves): the all-balls
    and perturbed-slot MCC and the ARI of the slot masks."""

    def __new__(cls, tensors, every):
        import lightning as L

        from .training import latent_scores, read_latents

        class Callback(L.Callback):
            def on_train_epoch_end(self, trainer, module):
                if every and (trainer.current_epoch + 1) % every == 0:
                    scores = latent_scores(module, read_latents(module, tensors))
                    keys = ("ari", "fg_ari") if module.phase == "autoencoder" else ("mcc", "mcc_perturbed", "ari")
                    module.log_dict({f"val/{k}": scores[k] for k in keys if k in scores})

        return Callback()


def autoencoder_file(init_from: str) -> Path:
    """``init_from`` as a file: a run directory's ``autoencoder.pt``, or the file itself."""
    from intarsia.errors import ConfigError

    p = Path(init_from).expanduser()
    if p.is_dir():
        p = p / "autoencoder.pt"
    if not p.is_file():
        raise ConfigError(f"init_from: {init_from!r} is neither a crl run with an autoencoder.pt nor such a file")
    return p


def save_module(path: Path, module, phase: str) -> None:
    from intarsia.safe_load import save_torch_file

    save_torch_file({"format": MODULE_FORMAT, "phase": phase,
                     "state": {k: v.detach().cpu() for k, v in module.state_dict().items()}}, path)


def load_module(path: Path, module, *, what: str) -> None:
    """Weights written by :func:`save_module` into ``module``; a file of another architecture is one line."""
    from intarsia.errors import ConfigError
    from intarsia.safe_load import load_torch_file

    blob = load_torch_file(path, what=what)
    if not isinstance(blob, dict) or blob.get("format") != MODULE_FORMAT:
        raise ConfigError(f"{what} {str(path)!r} is not a crl module file (a crl run writes autoencoder.pt, model.pt)")
    try:
        module.load_state_dict(blob["state"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ConfigError(f"{what} {str(path)!r} does not fit this model ({' '.join(first[:2])[:300]})") from None


MODULE_FORMAT = "intarsia-crl/module/1"


def _rank_weight_spread(module) -> float | None:
    """Under several processes, the largest difference of any weight between ranks (0: in sync); else None."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    flat = torch.cat([p.detach().flatten().cpu() for p in module.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    return float(max((g - gathered[0]).abs().max() for g in gathered))


def _reopen_if_extended(run, name: str, epochs: int) -> dict | None:
    """A finished stage's record, or None; a stage that finished with fewer epochs than the (resumed) config now
    asks for is reopened (its marker removed), so the fit continues from its checkpoint to the new end."""
    done = run.stage_done(name)
    if done is not None and int(done.get("epochs", epochs)) < epochs:
        (Path(run.dir) / "stages" / f"{name}.json").unlink(missing_ok=True)
        return None
    return done


def run_crl(config: CRLJobConfig, *, run) -> dict:
    """The job factory: ``factory(config, *, run)`` -> report dict.

    Stages (each resumable: a finished one is skipped on ``intarsia resume``, an unfinished fit continues from
    its checkpoints): ``autoencoder`` (slots with ``pretrain.epochs`` > 0 and no ``init_from``: the slot
    auto-encoder on the reconstruction of both frames, ``autoencoder.pt``), then ``finetune`` (after stage 1 or
    ``init_from``) or ``train`` (from scratch): the sparse-perturbation objective, ``model.pt`` and
    ``encoder.pt``; then the held-out evaluation."""
    import lightning as L

    from .encoders import save_encoder
    from .plots import latents_figure, slots_figure
    from .sprites import make_pairs, to_tensors
    from .training import CRLModule, column_properties, latent_scores, loader, read_latents

    _validate(config)
    t0 = time.perf_counter()
    root = Path(run.dir)
    t, pre, s = config.train, config.pretrain, config.sprites
    train_t = to_tensors(make_pairs(s, s.num_pairs, config.seed))
    val_t = to_tensors(make_pairs(s, s.val_pairs, config.seed + 1))
    data_seconds = time.perf_counter() - t0
    slots = config.model.encoder == "slots"
    two_stage = slots and (pre.epochs > 0 or bool(config.init_from))

    L.seed_everything(config.seed, workers=False, verbose=False)
    module = CRLModule(config)
    stages: dict[str, dict] = {}
    if slots and config.init_from:
        load_module(autoencoder_file(config.init_from), module, what="init_from")
    elif slots and pre.epochs > 0:
        def autoencoder() -> dict:
            module.phase = "autoencoder"
            trainer = run.trainer(config, name="autoencoder", callbacks=[_HeldOut(val_t, pre.eval_every)],
                                  max_epochs=pre.epochs, log_every_n_steps=10,
                                  max_time=timedelta(minutes=pre.max_minutes) if pre.max_minutes else None)
            t_fit = time.perf_counter()
            run.fit(trainer, module, loader(train_t, pre.batch_size, shuffle=True, seed=config.seed))
            fit_seconds = time.perf_counter() - t_fit
            scores = latent_scores(module, read_latents(module, val_t))
            if trainer.is_global_zero:
                save_module(root / "autoencoder.pt", module, "autoencoder")
            trainer.strategy.barrier()
            module.phase = "finetune"
            return {"steps": int(trainer.global_step), "epochs": int(trainer.current_epoch),
                    "fit_seconds": round(fit_seconds, 2), "ari": scores.get("ari"), "fg_ari": scores.get("fg_ari"),
                    "stopped_by_time_limit": bool(pre.max_minutes) and trainer.current_epoch < pre.epochs}

        done = _reopen_if_extended(run, "autoencoder", pre.epochs)
        stages["autoencoder"] = run.stage("autoencoder", autoencoder)
        if done is not None:
            load_module(root / "autoencoder.pt", module, what="stage 1's weights")
        module.phase = "finetune"

    name = "finetune" if two_stage else "train"
    world = {}

    def fit() -> dict:
        trainer = run.trainer(config, name="finetune" if two_stage else None, callbacks=[_HeldOut(val_t, t.eval_every)],
                              max_epochs=t.epochs, log_every_n_steps=10,
                              max_time=timedelta(minutes=t.max_minutes) if t.max_minutes else None)
        t_fit = time.perf_counter()
        run.fit(trainer, module, loader(train_t, t.batch_size, shuffle=True, seed=config.seed))
        fit_seconds = time.perf_counter() - t_fit
        world["spread"] = _rank_weight_spread(module)
        if trainer.is_global_zero:
            save_module(root / "model.pt", module, name)
            save_encoder(root / "encoder.pt", module.encoder, kind=config.model.encoder, model=config.model,
                         image_size=s.image_size, num_objects=s.num_objects, properties=list(s.properties),
                         heads=getattr(module, "heads", None))
        trainer.strategy.barrier()
        return {"steps": int(trainer.global_step), "epochs": int(trainer.current_epoch),
                "fit_seconds": round(fit_seconds, 2),
                "stopped_by_time_limit": bool(t.max_minutes) and trainer.current_epoch < t.epochs}

    done = _reopen_if_extended(run, name, t.epochs)
    stages[name] = run.stage(name, fit)
    if done is not None:
        load_module(root / "model.pt", module, what="the fit's weights")

    lat = read_latents(module, val_t)
    metrics = latent_scores(module, lat)
    names = column_properties(config)
    artifacts = ["config.yaml", "logs/metrics.csv", "logs/autoencoder/metrics.csv", "logs/finetune/metrics.csv",
                 "autoencoder.pt", "model.pt", "encoder.pt"]
    if run.extra.get("trainer") is None or run.extra["trainer"].is_global_zero:
        if config.plots:
            latents_figure(lat["true"], lat["learned"], names, root / "latents.png",
                           title=f"{config.name}: MCC {metrics['mcc']:.3f}")
            artifacts.append("latents.png")
            if "attn" in lat:
                slots_figure(val_t["x1"][: len(lat["attn"])].numpy(), lat["attn"], root / "slots.png",
                             lat.get("masks"), lat.get("recon"))
                artifacts.append("slots.png")
    main = stages[name]
    training = {"epochs": main["epochs"], "data_seconds": round(data_seconds, 2), "fit_seconds": main["fit_seconds"],
                "stopped_by_time_limit": main["stopped_by_time_limit"],
                "stages": {k: {kk: vv for kk, vv in v.items()} for k, v in stages.items()}}
    if config.init_from:
        training["init_from"] = str(autoencoder_file(config.init_from))
    if world.get("spread") is not None:
        training["rank_weight_max_diff"] = world["spread"]
    return run.report(steps=main["steps"], unit="optimizer steps", metrics=metrics, training=training,
                      artifacts=artifacts, seconds=time.perf_counter() - t0)
