"""Reading what people type: text folding, search, danger now, language."""
