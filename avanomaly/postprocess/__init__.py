"""Post-processing (anomalib's split: model vs post-processing vs metrics; docs/architecture.md): what turns the
networks' frame scores into a verdict, and the file that carries it.

    modelfile    the model file (``model.pt``, the one format): read as data only, write atomically, paths
    aggregate    per-frame NLL curve -> clip NLL (AggregationConfig)
    terms        frame scores -> a clip's score terms (training's calibration; the Detector's steps)
    fusion       the score terms and their fusion into one clip score
    calibration  the threshold at a false-positive rate, the Calibration record, calibration.json
    basis        what a calibration rests on (clips, speakers, confidence of its false-alarm rate)
    domain       the out-of-domain rule (recording facts vs the calibration pool)
    abstain      the abstain rules

Below both training and scoring: it imports only the bottom layer and ``models`` (the model records), never
preprocessing, training or scoring.
"""
