"""intarsia-gfn: GFlowNets on discrete DAGs (TB, DB, SubTB) and outcome-conditioned pre-training and
fine-tuning (OC-GFN; Pan, Jain, Madan, Bengio, ICLR 2024)."""
