"""The ad-spend sheet (seed 002, Phase 3): ad_spend, its rejects, spend per funnel per day and in total."""
