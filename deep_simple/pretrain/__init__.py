"""Greedy layer-wise training before back-propagation: what the 2010 MLPs did without.

    from deep_simple.pretrain import method, stages
    cfg = method.base_config("rbm_pretraining")   # also end_to_end, layerwise_supervised, autoencoder_pretraining
    summaries = stages.run(cfg, workdir)           # greedy stages, one per hidden layer, then fine-tuning

The unsupervised steps are pure functions built once from a config, under the one input contract:
`rbm.make_cd1_step(cfg)` and `autoencoder.make_dae_step(cfg)` return `(state, batch) -> (state, metrics)`.
Supervised stages (layer-wise training, fine-tuning) are ordinary runs of deep_simple.loop.
"""
