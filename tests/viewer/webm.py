"""Count the video frames of a WebM file and read their timestamps, by walking its EBML elements (no dependency).

Master elements (Segment, Cluster, BlockGroup) are entered, whatever their size (a recorder writes the
Segment, and may write Clusters, with an unknown size); every other element is skipped by its size.
"""

from __future__ import annotations

SEGMENT, CLUSTER, BLOCK_GROUP = 0x18538067, 0x1F43B675, 0xA0
CLUSTER_TIMESTAMP, SIMPLE_BLOCK, BLOCK = 0xE7, 0xA3, 0xA1
EBML_HEADER = 0x1A45DFA3


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int, bool]:
    """(value, position after it, all value bits set: an unknown size) of the variable-length integer at ``pos``."""
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError(f"not an EBML integer at byte {pos}")
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1: pos + length]:
        value = (value << 8) | byte
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, pos + length, unknown


def frame_timestamps(data: bytes) -> list[int]:
    """The timestamp (in the file's time unit, milliseconds by default) of every block, in file order."""
    if int.from_bytes(data[:4], "big") != EBML_HEADER:
        raise ValueError("not a WebM (EBML) file")
    pos, cluster_time, times = 0, 0, []
    while pos < len(data):
        element, pos, _ = _vint(data, pos, keep_marker=True)
        size, pos, unknown = _vint(data, pos, keep_marker=False)
        if element in (SEGMENT, CLUSTER, BLOCK_GROUP):
            continue  # enter it: its children follow
        if unknown:
            raise ValueError(f"element {element:#x} of unknown size at byte {pos}")
        body = data[pos: pos + size]
        if element == CLUSTER_TIMESTAMP:
            cluster_time = int.from_bytes(body, "big")
        elif element in (SIMPLE_BLOCK, BLOCK):
            _, after_track, _ = _vint(body, 0, keep_marker=False)
            times.append(cluster_time + int.from_bytes(body[after_track: after_track + 2], "big", signed=True))
        pos += size
    return times
