"""Config checks of the natural-image DMM study that the JSON schema cannot express
(relations between keys). Called by :func:`pipeline_lib.config.check_config`; every
message names the key, what is wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.config import figure_seed_errors


def errors(cfg: Mapping) -> list[str]:
    errs = []
    dmm = cfg.get("dmm", {})
    nat = cfg.get("natural", {})
    errs += figure_seed_errors("dmm", dmm)
    for name in (dmm.get("ablations") or {}).get("datasets") or []:
        if name not in dmm.get("datasets", []):
            errs.append(
                f"config key 'dmm.ablations.datasets': {name!r} is not in dmm.datasets; "
                f"allowed: datasets of dmm.datasets {dmm.get('datasets', [])}"
            )
    for name in dmm.get("pretrained_datasets", []):
        if name not in nat.get("datasets", []):
            errs.append(
                f"config key 'dmm.pretrained_datasets': {name!r} is not prepared; allowed: "
                f"datasets listed in natural.datasets {nat.get('datasets', [])}"
            )
        if name in dmm.get("datasets", []):
            errs.append(
                f"config key 'dmm.pretrained_datasets': {name!r} is also in dmm.datasets; "
                "allowed: a dataset in one of the two (trained classifiers or a pretrained one)"
            )
        if not (dmm.get(name, {}).get("pretrained") or {}).get("weights"):
            errs.append(
                f"config key 'dmm.{name}.pretrained.weights' is not set; allowed: the path of "
                "the pretrained network's state dict (torch.save(model.state_dict(), path))"
            )
    for name in [*dmm.get("datasets", []), *dmm.get("pretrained_datasets", [])]:
        if name not in nat.get("datasets", []):
            if name in dmm.get("pretrained_datasets", []):
                continue
            errs.append(
                f"config key 'dmm.datasets': {name!r} is not prepared; allowed: datasets "
                f"listed in natural.datasets {nat.get('datasets', [])}"
            )
            continue
        spec = nat.get(name, {})
        n_test = spec.get("n_test")
        have = list(spec.get("classes", []))
        manifold = (dmm.get(name, {}).get("autoencoder") or {}).get("classes")
        if manifold is not None:
            missing = [c for c in manifold if have and c not in have]
            if missing:
                errs.append(
                    f"config key 'dmm.{name}.autoencoder.classes': classes {missing} are not "
                    f"in natural.{name}.classes; allowed: a subset of {have}"
                )
        # stratified subsets: each class holds about n_test / len(classes) test images;
        # the attacked samples come from the manifold classes, the distance samples from all
        n_manifold = n_test
        if manifold is not None and n_test is not None and have:
            n_manifold = n_test * len(manifold) // len(have)
        own = dmm.get(name, {}).get("n_samples")
        for key, n_have in (("n_samples", n_manifold), ("distance_samples", n_test)):
            want, where = dmm.get(key, 0), f"dmm.{key}"
            if key == "n_samples" and own is not None:
                want, where = own, f"dmm.{name}.n_samples"
            if name in dmm.get("pretrained_datasets", []) and key == "distance_samples":
                continue  # no Fig. 6 for a pretrained classifier
            if n_have is not None and want > n_have:
                errs.append(
                    f"config key '{where}': {want} is more than the {n_have} test images "
                    f"of {name} the DMM analyses (natural.{name}.n_test, of its manifold "
                    f"classes where dmm.{name}.autoencoder.classes is set); allowed: 1..{n_have}"
                )
        two = dmm.get("mislabeled", {}).get("two_classes", [])
        many = len(spec.get("classes", [])) > 2
        if many and "two_class" in dmm.get("mislabeled", {}).get("schemes", []):
            missing = [c for c in two if c not in spec.get("classes", [])]
            if missing:
                errs.append(
                    f"config key 'dmm.mislabeled.two_classes': classes {missing} are not in "
                    f"natural.{name}.classes; allowed: two of {spec.get('classes')}"
                )
    return errs
