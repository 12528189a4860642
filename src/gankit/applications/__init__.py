"""Applications of trained GANs from the lectures (issue 18): explaining a classifier (FIGAN),
synthetic data for rare classes, the Classification Accuracy Score and the discriminator as a
base model for transfer learning. One module per application."""
