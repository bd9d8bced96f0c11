"""The toolkit every deep method of xmcbench stands on (AttentionXML, XML-CNN, BiLSTM-maxpool).

Imports torch (install ``xmcbench[deep]``); nothing else in the core imports this package, so
listing commands never load torch. Modules, each with one job:

* `estimator`: `DeepEstimator`, fit/predict/save/load/get_params/describe of a flat network; a
  method subclasses it and builds its network (`network_config`, `network_class`);
* `params`: the specs of the fields the toolkit reads, `TrainingParams` to derive from;
* `presets`: the generic preset resolver and the training budgets the methods share;
* `engine`: the training loop (clipping, SWA, early stopping, budgets, checkpoints, resume);
* `batching`, `predict`: training batches and validation split, batched top-k prediction;
* `checkpoint`, `saving`: atomic checkpoint files and code fingerprints, saved model folders;
* `budget`, `swa`, `clipping`, `optim`, `progress`, `train_state`, `trainer_checkpoints`: the
  engine's parts;
* `distributed`: the device and torchrun data parallelism;
* `embedding_init`, `layers`, `encoder`: PPMI+SVD/GloVe embeddings, shared layers, the BiLSTM.
"""
