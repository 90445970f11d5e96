"""Camera control protocols behind one plugin interface (`base.CameraAdapter`), plus discovery.

Importing this package registers every built-in adapter; `base.open_device(kind, ...)` picks one.
"""

from vms.cameras.devices import dahua, hikvision, onvif, rtsp

__all__ = ["dahua", "hikvision", "onvif", "rtsp"]
