# Natural-image Dimpled-Manifold ablations (config dmm.ablations; config/ablations.yaml):
# manifold dimension and autoencoder training length, where the tangent space is taken,
# and the Fig. 6 boundary distance with sub-epoch checkpoints and a second architecture.
