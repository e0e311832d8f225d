"""Models layer: registry, SyncModel windows / offsets / confidence, contrastive loss, ARModel likelihoods."""

from __future__ import annotations

import itertools

import pytest
import torch

from avanomaly.errors import ConfigError
from avanomaly.models import (ARModel, SyncModel, backbone_input, create_model, list_backbones, list_models, list_temporal,
                              sync_accuracy, sync_contrastive_loss, sync_features, valid_offsets_mask)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY_SYNC = dict(dim=16, width=4, crop_size=32, temporal_heads=2, temporal_layers=1, max_offset=3, dropout=0.0)
TINY_AR = dict(d_model=16, n_layers=2, n_heads=2, dropout=0.0)
DEFAULT_SYNC_MAX_PARAMS = 5_000_000  # bounds so an accidental blow-up of the defaults is noticed
DEFAULT_AR_MAX_PARAMS = 2_000_000


def _inputs(B, T, S=32, M=80, seed=0, features=0):
    """Random (visual, mel): crops (B, T+4, S, S) in [0, 1], or (B, T+4, F) feature vectors with ``features=F``."""
    g = torch.Generator().manual_seed(seed)
    visual = torch.randn(B, T + 4, features, generator=g) if features else torch.rand(B, T + 4, S, S, generator=g)
    return visual, torch.randn(B, 4 * (T + 4), M, generator=g)


#: per-frame feature size used for the feature-vector visual backbones (the landmark front end's)
N_FEATURES = 98


def _visual_kwargs(visual: str) -> dict:
    return {"in_features": N_FEATURES} if backbone_input("visual", visual) == "features" else {}


def _n_params(m):
    return sum(p.numel() for p in m.parameters())


# ---------------------------------------------------------------------------------------------- registry
def test_registry_lists_and_errors():
    assert {"sync", "ar"} <= set(list_models())
    assert {"syncnet_small", "efficientnet_b0"} <= set(list_backbones("visual"))
    assert {"audio_small", "audio_efficientnet_b0"} <= set(list_backbones("audio"))
    assert {"transformer", "mamba", "none"} <= set(list_temporal())
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        create_model("nope")
    with pytest.raises(ConfigError, match="bogus"):
        create_model("sync", bogus=1)
    with pytest.raises(ConfigError, match="unknown visual backbone"):
        create_model("sync", visual_backbone="resnet_999")
    with pytest.raises(ConfigError):
        list_backbones("smell")
    m = create_model("sync", **TINY_SYNC)
    assert isinstance(m, SyncModel) and m.model_name == "sync" and m.config.dim == 16


def test_efficientnet_backbones_without_their_package_name_the_extra(monkeypatch):
    """efficientnet-pytorch is optional (the ``efficientnet`` extra): still listed, building one without it is a
    MissingDependencyError with the pip line, and the default backbones need nothing."""
    import sys

    from avanomaly.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "efficientnet_pytorch", None)
    assert "efficientnet_b0" in list_backbones("visual")
    for key, name in (("visual_backbone", "efficientnet_b0"), ("audio_backbone", "audio_efficientnet_b0")):
        with pytest.raises(MissingDependencyError, match=r"avanomaly\[efficientnet\]"):
            create_model("sync", **{**TINY_SYNC, key: name})
    assert isinstance(create_model("sync", **TINY_SYNC), SyncModel)


def test_mobilenet_only_with_torchvision():
    try:
        import torchvision.models  # noqa: F401
    except Exception:  # noqa: BLE001
        assert "mobilenet_v3_small" not in list_backbones("visual")
        pytest.skip("torchvision does not import here; mobilenet_v3_small is not registered")
    m = create_model("sync", visual_backbone="mobilenet_v3_small", **TINY_SYNC).eval()
    mouths, mel = _inputs(1, 2)
    assert m(mouths, mel)["v"].shape == (1, 2, 16)


# ---------------------------------------------------------------------------------------------- SyncModel
# the full registry product (timm-style): every visual backbone x audio backbone x temporal block
COMBOS = list(itertools.product(list_backbones("visual"), list_backbones("audio"), list_temporal()))


@pytest.mark.parametrize("visual,audio,temporal", COMBOS)
def test_sync_shapes_and_gradients_every_combination(visual, audio, temporal):
    torch.manual_seed(0)
    m = create_model("sync", visual_backbone=visual, audio_backbone=audio, temporal=temporal,
                     feature_embed_dim=4, **TINY_SYNC, **_visual_kwargs(visual))
    B, T, K = 2, 3, 3
    mouths, mel = _inputs(B, T, features=m.config.in_features)
    out = m(mouths, mel)
    O = 2 * K + 1
    assert out["v"].shape == (B, T, 16) and out["a"].shape == (B, T, 16)
    assert torch.allclose(out["v"].norm(dim=-1), torch.ones(B, T), atol=1e-5)
    assert torch.allclose(out["a"].norm(dim=-1), torch.ones(B, T), atol=1e-5)
    assert out["logits"].shape == (B, T, O) and out["mask"].shape == (B, T, O)
    assert torch.isfinite(out["logits"]).all()
    assert sync_features(out).shape == (B, T, m.feature_dim) == (B, T, O + 4)
    loss = sync_contrastive_loss(out["logits"], out["mask"]) + (sync_features(out) ** 2).sum()
    loss.backward()
    no_grad = [n for n, p in m.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not no_grad, f"parameters without gradient: {no_grad}"


def test_visual_and_audio_windows_follow_the_contract():
    """With no temporal block, output frame t depends on mouth frames t..t+4 of the padded input (= clip frames
    t-2..t+2) and on mel frames 4t..4t+19 (= clip mel frames 4(t-2)..4(t+3)-1), and nothing else."""
    m = create_model("sync", temporal="none", **TINY_SYNC).eval()
    T = 6
    mouths, mel = _inputs(1, T)
    with torch.no_grad():
        v0 = m.embed_visual(mouths)
        j = 5  # padded mouth index
        m2 = mouths.clone()
        m2[:, j] += 0.3
        changed = (m.embed_visual(m2) - v0).abs().amax(-1)[0] > 1e-6
        assert changed.tolist() == [j - 4 <= t <= j for t in range(T)]
        # the per-clip mel normalisation couples all frames (through mean / std); check the windows without it
        m.normalize_mel = lambda x: x
        i = 13  # padded mel index
        mel2 = mel.clone()
        mel2[:, i] += 1.0
        changed = (m.embed_audio(mel2) - m.embed_audio(mel)).abs().amax(-1)[0]
        assert (changed > 1e-6).tolist() == [4 * t <= i < 4 * t + 20 for t in range(T)]


def test_audio_normalisation_is_per_clip():
    m = create_model("sync", **TINY_SYNC).eval()
    mouths, mel = _inputs(1, 4)
    with torch.no_grad():
        a = m.embed_audio(mel)
        # a per-bin offset (e.g. microphone response) and a global gain are removed
        shifted = mel * 3.0 + torch.linspace(-2, 2, mel.shape[-1])
        assert torch.allclose(m.embed_audio(shifted), a, atol=1e-4)


def test_input_length_errors():
    m = create_model("sync", **TINY_SYNC)
    with pytest.raises(ValueError, match="frames"):
        m.embed_visual(torch.rand(1, 4, 32, 32))
    with pytest.raises(ValueError, match="multiple of 4"):
        m.embed_audio(torch.randn(1, 30, 80))


def _unit(x):
    return torch.nn.functional.normalize(x, dim=-1)


@pytest.mark.parametrize("delay", [-2, 0, 3])
def test_offset_convention_delayed_audio_peaks_at_plus_n(delay):
    """Audio delayed by n frames: a[t + n] == v[t]  ->  peak at d = +n, offset_confidence returns +n."""
    K, T = 3, 12
    m = create_model("sync", **{**TINY_SYNC, "max_offset": K})
    g = torch.Generator().manual_seed(1)
    v = _unit(torch.randn(1, T, 16, generator=g))
    a = torch.roll(v, shifts=delay, dims=1)  # a[t] = v[t - delay]
    logits, mask = m.sync_logits(v, a)
    inner = slice(K, T - K)  # frames where every offset is valid and the roll did not wrap
    best = logits[0, inner].argmax(-1) - K
    assert (best == delay).all()
    offset, conf = m.offset_confidence(logits, mask)
    assert offset.item() == delay and conf.item() > 0.5
    fw = m.framewise_confidence(logits, mask)
    assert fw.shape == (1, T) and (fw >= 0).all()


def test_sync_logits_values_and_mask_fill():
    K, T = 2, 4
    m = create_model("sync", **{**TINY_SYNC, "max_offset": K, "learn_temperature": False, "temperature": 0.5})
    g = torch.Generator().manual_seed(2)
    v, a = _unit(torch.randn(2, T, 16, generator=g)), _unit(torch.randn(2, T, 16, generator=g))
    logits, mask = m.sync_logits(v, a)
    assert torch.equal(mask[0], valid_offsets_mask(T, K))
    for t in range(T):
        for d in range(-K, K + 1):
            if 0 <= t + d < T:
                assert mask[1, t, K + d]
                assert torch.isclose(logits[1, t, K + d], (v[1, t] @ a[1, t + d]) / 0.5, atol=1e-5)
            else:
                assert not mask[1, t, K + d]
                valid = logits[1, t][mask[1, t]]
                assert torch.isclose(logits[1, t, K + d], valid.mean(), atol=1e-5)


def test_offset_confidence_matches_syncnet_distance_form():
    """SyncNet: dist = ||v - a||, offset = argmin(mean dist), conf = median - min. For unit vectors
    dist^2 = 2 - 2 cos, so with squared distances the statistic equals 2 * (max - median) of the cos curve."""
    K, T = 3, 10
    m = create_model("sync", **{**TINY_SYNC, "max_offset": K})
    g = torch.Generator().manual_seed(3)
    v, a = _unit(torch.randn(1, T, 16, generator=g)), _unit(torch.randn(1, T, 16, generator=g))
    logits, mask = m.sync_logits(v, a)
    offset, conf = m.offset_confidence(logits, mask)
    d2 = torch.stack([torch.stack([((v[0, t] - a[0, t + d]) ** 2).sum() for t in range(T) if 0 <= t + d < T]).mean()
                      for d in range(-K, K + 1)])
    assert offset.item() == d2.argmin().item() - K
    assert torch.isclose(conf[0], (d2.median() - d2.min()) / 2, atol=1e-5)


def test_sync_features_are_distributions():
    m = create_model("sync", **TINY_SYNC).eval()
    mouths, mel = _inputs(2, 5)
    with torch.no_grad():
        f = m.sync_features(mouths, mel)
    assert f.shape == (2, 5, 7) and torch.allclose(f.sum(-1), torch.ones(2, 5), atol=1e-5) and (f >= 0).all()


# ---------------------------------------------------------------------------------------------- losses
def test_contrastive_loss_matches_cross_entropy_and_ignores_masked():
    g = torch.Generator().manual_seed(4)
    B, T, K = 2, 5, 2
    logits = torch.randn(B, T, 2 * K + 1, generator=g)
    mask = valid_offsets_mask(T, K).expand(B, T, 2 * K + 1)
    loss = sync_contrastive_loss(logits, mask, reduction="none")
    manual = torch.stack([torch.stack([-(logits[b, t, K] - torch.logsumexp(logits[b, t][mask[b, t]], 0))
                                       for t in range(T)]) for b in range(B)])
    assert torch.allclose(loss, manual, atol=1e-6)
    changed = logits.masked_fill(~mask, 50.0)  # masked positions must not matter
    assert torch.allclose(sync_contrastive_loss(changed, mask), loss.mean())
    perfect = torch.where(torch.arange(2 * K + 1) == K, 20.0, 0.0).expand(B, T, -1)
    assert sync_contrastive_loss(perfect, mask) < 1e-6 and sync_accuracy(perfect, mask) == 1.0


def test_contrastive_cross_clip_negatives():
    K, T, B = 2, 6, 3
    m = create_model("sync", **{**TINY_SYNC, "max_offset": K})
    g = torch.Generator().manual_seed(5)
    v, a = _unit(torch.randn(B, T, 16, generator=g)), _unit(torch.randn(B, T, 16, generator=g))
    logits, mask = m.sync_logits(v, a)
    base = sync_contrastive_loss(logits, mask, reduction="none")
    cross = sync_contrastive_loss(logits, mask, v=v, a=a, scale=m.scale, cross_clip=True, reduction="none")
    assert (cross > base).all()  # extra negatives only add mass to the denominator
    b, t = 1, 3
    negs = torch.stack([v[b, t] @ a[c, t] for c in range(B) if c != b]) * m.scale
    row = torch.cat([logits[b, t][mask[b, t]], negs])
    assert torch.isclose(cross[b, t], torch.logsumexp(row, 0) - logits[b, t, K], atol=1e-5)
    with pytest.raises(ValueError):
        sync_contrastive_loss(logits, mask, cross_clip=True)


# ---------------------------------------------------------------------------------------------- ARModel
def _features(B, T, O, E=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(B, T, O, generator=g).mul(2).softmax(-1)
    if E:
        return torch.cat([p, torch.randn(B, T, E, generator=g)], dim=-1)
    return p


def test_ar_causality():
    ar = create_model("ar", in_features=7, n_offsets=7, **TINY_AR).eval()
    f = _features(2, 12, 7)
    t = 6
    with torch.no_grad():
        nll = ar(f)
        f2 = f.clone()
        f2[:, t + 1:] = _features(2, 12 - t - 1, 7, seed=9)  # change steps > t
        nll2 = ar(f2)
    assert nll.shape == (2, 11)
    # NLL index s predicts step s+1 from steps <= s: indices < t only involve steps <= t
    assert torch.allclose(nll[:, :t], nll2[:, :t], atol=1e-6)
    assert not torch.allclose(nll[:, t:], nll2[:, t:])


def test_ar_categorical_against_torch_distributions():
    O = 5
    ar = create_model("ar", in_features=O, n_offsets=O, **TINY_AR).eval()
    f = _features(2, 6, O, seed=1)
    with torch.no_grad():
        terms = ar.step_terms(f)
    q = terms["log_q"].exp()
    assert torch.allclose(q.sum(-1), torch.ones(2, 5), atol=1e-6)
    dist = torch.distributions.Categorical(logits=terms["log_q"])
    p_next = f[:, 1:]
    ce = -(sum(p_next[..., o] * dist.log_prob(torch.full((2, 5), o)) for o in range(O)))
    assert torch.allclose(terms["ce"], ce, atol=1e-5) and torch.allclose(terms["nll"], ce, atol=1e-5)
    kl = torch.distributions.kl_divergence(torch.distributions.Categorical(probs=p_next), dist)
    assert torch.allclose(terms["kl"], kl, atol=1e-5)
    assert (terms["kl"] >= -1e-6).all()
    # one-hot target: NLL = -log q(target)
    onehot = torch.nn.functional.one_hot(torch.tensor([[0, 1, 2, 3, 4, 0]] * 2), O).float()
    with torch.no_grad():
        nll = ar(f, targets=onehot)
    assert torch.allclose(nll, -dist.log_prob(torch.tensor([[1, 2, 3, 4, 0]] * 2)), atol=1e-5)


def test_ar_gaussian_head_against_normal():
    O, E = 5, 3
    ar = create_model("ar", in_features=O + E, n_offsets=O, embed_head=True, **TINY_AR).eval()
    f = _features(2, 7, O, E, seed=2)
    with torch.no_grad():
        terms = ar.step_terms(f)
        pred = ar.predict(f[:, :-1])
    normal = torch.distributions.Normal(pred["mu"], (0.5 * pred["logvar"]).exp())
    expected = -normal.log_prob(f[:, 1:, O:]).sum(-1)
    assert torch.allclose(terms["embed_nll"], expected, atol=1e-5)
    assert torch.allclose(terms["nll"], terms["ce"] + expected, atol=1e-5)
    with pytest.raises(ConfigError, match="embed_head"):
        create_model("ar", in_features=O, n_offsets=O, embed_head=True)


def test_ar_sliding_context():
    C, O = 8, 5
    ar = create_model("ar", in_features=O, n_offsets=O, context=C, **TINY_AR).eval()
    with torch.no_grad():
        f = _features(1, C + 1, O, seed=3)  # T - 1 == context: one pass
        assert torch.equal(ar(f), ar.step_terms(f)["nll"])
        assert torch.equal(ar.score_sequence(f)["nll"], ar.step_terms(f)["nll"])
        long = _features(2, 3 * C, O, seed=4)
        nll = ar.score_sequence(long)["nll"]
        assert nll.shape == (2, 3 * C - 1) and torch.isfinite(nll).all()
        assert torch.equal(ar(long), nll)
        # the first context predictions come from the first chunk, i.e. equal the full pass
        assert torch.allclose(nll[:, :C], ar.step_terms(long)["nll"][:, :C], atol=1e-6)
        # bounded receptive field: changing steps more than `context` before the last step leaves it unchanged
        long2 = long.clone()
        long2[:, : 3 * C - 1 - C] = _features(2, 3 * C - 1 - C, O, seed=5)
        assert torch.allclose(ar.score_sequence(long2)["nll"][:, -1], nll[:, -1], atol=1e-6)
        # every stride gives the same shapes and agrees with the full pass on the first chunk
        for stride in (1, 3, C):
            s = ar.score_sequence(long, stride=stride)["nll"]
            assert s.shape == nll.shape and torch.allclose(s[:, :C], nll[:, :C], atol=1e-6)


def test_ar_gradients_reach_every_parameter():
    O, E = 5, 2
    ar = create_model("ar", in_features=O + E, n_offsets=O, embed_head=True, **TINY_AR)
    ar(_features(2, 6, O, E)).mean().backward()
    missing = [n for n, p in ar.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_ar_config_errors():
    with pytest.raises(ConfigError, match="derived from the sync model"):
        create_model("ar")  # F and O come from the sync model
    with pytest.raises(ConfigError, match="family"):
        create_model("ar", in_features=5, n_offsets=5, family="gaussian")
    with pytest.raises(ConfigError, match="n_offsets"):
        create_model("ar", in_features=3, n_offsets=5)
    with pytest.raises(ValueError, match="features"):
        create_model("ar", in_features=5, n_offsets=5, **TINY_AR)(torch.rand(1, 4, 6))


def test_default_parameter_counts_are_bounded(capsys):
    from avanomaly.models import ARModelConfig, ar_config_for

    sync = create_model("sync")
    ar = create_model("ar", config=ar_config_for(sync.config, ARModelConfig()))
    assert isinstance(ar, ARModel) and ar.config.in_features == sync.feature_dim
    ns, na = _n_params(sync), _n_params(ar)
    print(f"default SyncModel params: {ns:,}; default ARModel params: {na:,}")
    assert 100_000 < ns < DEFAULT_SYNC_MAX_PARAMS
    assert 100_000 < na < DEFAULT_AR_MAX_PARAMS


def test_ar_config_is_derived_from_the_sync_config():
    from avanomaly.models import ARModelConfig, SyncModelConfig, ar_config_for

    derived = ar_config_for(SyncModelConfig(max_offset=4, feature_embed_dim=3), ARModelConfig(d_model=8))
    assert (derived.n_offsets, derived.in_features, derived.d_model) == (9, 12, 8)
    assert ar_config_for(SyncModelConfig(max_offset=4, feature_embed_dim=3), derived) == derived  # consistent: kept
    with pytest.raises(ConfigError, match="disagree with the sync model"):
        ar_config_for(SyncModelConfig(max_offset=15), derived)  # never rewritten silently


def test_sync_features_feed_the_ar_model_end_to_end():
    """The two stages composed (mouths, mel -> sync features -> per-step NLL) keep both models' timing: with no
    temporal block, padded mouth frame j reaches sync-feature frames j-4..j only, and NLL index s (predicting
    step s+1 from steps <= s) must change exactly from s = j-5 on, in that clip only."""
    sync = create_model("sync", feature_embed_dim=4, **{**TINY_SYNC, "temporal": "none"}).eval()
    ar = create_model("ar", in_features=sync.feature_dim, n_offsets=sync.n_offsets, embed_head=True, **TINY_AR).eval()
    T, j = 12, 10
    mouths, mel = _inputs(2, T)
    with torch.no_grad():
        nll = ar(sync.sync_features(mouths, mel))
        m2 = mouths.clone()
        m2[0, j] = 1.0 - m2[0, j]
        nll2 = ar(sync.sync_features(m2, mel))
    assert nll.shape == (2, T - 1) and torch.isfinite(nll).all()
    changed = (nll2 - nll).abs() > 1e-6
    assert changed[0].tolist() == [s >= j - 5 for s in range(T - 1)]
    assert not changed[1].any()


def test_short_clip_with_offsets_beyond_the_clip():
    """T <= K: some offsets have no valid frame at all; the summaries ignore them instead of returning NaN."""
    m = create_model("sync", **TINY_SYNC).eval()  # K = 3
    mouths, mel = _inputs(1, 2)
    with torch.no_grad():
        out = m(mouths, mel)
        curve = m.offset_curve(out["logits"], out["mask"])
        offset, conf = m.offset_confidence(out["logits"], out["mask"])
        fw = m.framewise_confidence(out["logits"], out["mask"])
    assert torch.isnan(curve[0, 0]) and torch.isnan(curve[0, -1])  # d = -3, +3 impossible with T = 2
    assert abs(offset.item()) <= 1 and torch.isfinite(conf).all() and torch.isfinite(fw).all()
    assert torch.isfinite(out["features"]).all()


@pytest.mark.parametrize("temporal", ["transformer", "mamba"])
def test_clips_in_a_batch_do_not_interact(temporal):
    m = create_model("sync", temporal=temporal, **TINY_SYNC).eval()
    mouths, mel = _inputs(3, 5)
    with torch.no_grad():
        together = m(mouths, mel)["features"]
        alone = torch.cat([m(mouths[i:i + 1], mel[i:i + 1])["features"] for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)
