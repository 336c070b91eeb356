"""intarsia-crl: object-centric causal representation learning (Mansouri et al., ICLR 2024)."""
