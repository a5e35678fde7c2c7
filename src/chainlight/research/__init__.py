"""Research tools that use the pipeline's pieces but are not a pipeline stage (e.g. the Shenwan
industry classifier behind ``bench/real_chain_kg.py``). No stage imports this package."""
