"""intarsia-capprobe: what fine-tuning does to capabilities (Jain et al., ICLR 2024)."""
