"""Page understanding: trace rows, lead boxes, calibration pulses and lead names of an ECG page.

:func:`find_layout` reads a deskewed RGB page and its :class:`~ecgtrace.grid.Grid` and returns a
:class:`Layout`: where each lead was drawn (a :class:`LeadBox` per cell of the layout: its band
in rows, its time span in cols, the row of 0 mV), which part of the recording it shows (start
time and duration, s), the calibration pulses and the speed and gain the page is read at.

1. **Ink** (:mod:`.rows`): per-pixel darkness with coloured grids suppressed, lines that run the
   whole page (a grey grid) taken out, thresholded at a third of the ink's darkness.
2. **Rows** (:mod:`.rows`): long, thin, horizontal, evenly spaced ink.
3. **Pulses** (:mod:`.pulses`): two strokes ~0.2 s apart joined by a plateau at a row's end;
   their foot is the row's 0 mV line, their height and width settle the gain and speed
   (:mod:`ecgtrace.calibration`).
4. **Time** (:mod:`.traces`): the ends of the traces over the paper speed give the duration,
   rounded to the 0.05 s per column the printers (and the renderer) use.
5. **Layout and names** (:mod:`.naming`): the number of rows, rhythm strips matched to the
   cells they repeat, Cabrera's order from the limb leads' laws.

Positions are px (row, col) in the image; times s; lengths mm; gain mm/mV; speed mm/s.
"""

from ecgtrace.layout.find import find_layout
from ecgtrace.layout.types import Layout, LeadBox, Pulse
from ecgtrace.leads import LayoutError, parse_layout

__all__ = ["Layout", "LayoutError", "LeadBox", "Pulse", "find_layout", "parse_layout"]
