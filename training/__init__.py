"""Dataset building, training and evaluation for Colorarchive's models (imports colorization, never Django).

colorize-train build FILMS... FOLDERS... -o data/frames      training.build_dataset.build
colorize-train fit training/configs/default.toml             training.train.fit
colorize-train eval CHECKPOINT data/frames                   training.evaluate.evaluate
colorize-train eval-historical ../shared/data/historical_color   training.historical_eval
colorize-train export runs/NAME/best.pt -o colorization/weights/NAME.pt --default
"""
