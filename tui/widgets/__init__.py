"""The app's widgets, one per module, each with its own ``.tcss`` next to it.

Importing this package imports Textual; `flowdev.tui` itself imports nothing.
"""

from flowdev.tui.widgets.asset_graph import AssetGraphView
from flowdev.tui.widgets.asset_list import AssetDetails, AssetListView

__all__ = ["AssetDetails", "AssetGraphView", "AssetListView"]
