"""The channels people reach the assistant through, behind one contract."""
