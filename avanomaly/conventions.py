"""The data conventions every stage shares, defined once (each module imports them from here).

A clip is video at ``FPS`` frames/s and mono audio at ``SAMPLE_RATE`` Hz; the log-mel has ``MEL_PER_FRAME``
frames per video frame (10 ms hop at 25 fps). Pixel crops are uint8 and become [0, 1] floats by dividing by
``PIXEL_MAX``. A sync window is ``SYNC_WINDOW_FRAMES`` video frames centred on its frame (``SYNC_WINDOW_CONTEXT``
each side), compared with audio at ``-K..+K`` frame offsets (``DEFAULT_MAX_OFFSET`` = K, AVAD's and SyncNet's 15).
"""

#: video frames per second after decoding
FPS = 25
#: audio samples per second after decoding (mono)
SAMPLE_RATE = 16000
#: log-mel frames per video frame (hop 160 samples = 10 ms at 16 kHz; 640 samples per video frame)
MEL_PER_FRAME = 4
#: uint8 pixel value that maps to 1.0
PIXEL_MAX = 255.0
#: video frames in one sync window, and frames of context each side of its centre frame
SYNC_WINDOW_FRAMES = 5
SYNC_WINDOW_CONTEXT = SYNC_WINDOW_FRAMES // 2
#: default audio offsets compared each side (+-K frames; 2K + 1 = 31 offsets)
DEFAULT_MAX_OFFSET = 15
#: precision the log-mel is stored with (the feature cache); the streaming extractor rounds to it too, so scoring
#: a file sees exactly the values a cache entry holds (calibration on cached clips == scoring files)
MEL_STORAGE_DTYPE = "float16"
#: video frames decoded and tracked per streaming chunk (10 s): preprocessing and scoring use the same chunks, so
#: a scored file gets its cache entry's features (the face track is smoothed within a chunk)
DECODE_CHUNK_FRAMES = 250
#: identity-disjoint split (train, val, test) fractions and seed used by default (FakeAVCeleb: 314/35/151 of 500
#: identities); the data layer's splitter and training's config both take them from here
DEFAULT_SPLIT_FRACTIONS = (0.628, 0.07, 0.302)
DEFAULT_SPLIT_SEED = 0
