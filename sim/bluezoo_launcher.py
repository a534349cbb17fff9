# SPDX-License-Identifier: GPL-2.0-only
# This file patches bluezoo (GPL-2.0-only) at run time, so it carries bluezoo's
# licence. It is a test-time subprocess only; nothing in repbelt imports it.
"""Start bluezoo 1.0.2 (mock BlueZ on D-Bus) with fixes for the bugs repbelt hits.

Run as `python sim/bluezoo_launcher.py [bluezoo options]` with
DBUS_SYSTEM_BUS_ADDRESS pointing at a private bus. The fixes are tied to the
pinned bluezoo version (requirements.lock); the launcher refuses other
versions rather than patching code it has not been checked against.

Fixes:
1. Reconnect: bluezoo leaves the GATT link objects of a connection exported
   after Disconnect, so the next Connect fails with
   `SdBus_add_interface returned error number: 17` (EEXIST). Here Disconnect
   removes them (as BlueZ does for a non-cached device) and clears
   ServicesResolved.
2. Notifications after a reconnect: bluezoo decides whether to forward
   StartNotify from its cached `Notifying` of the server characteristic; a
   stale True sends the call down the AcquireNotify path
   (`AcquireNotify ... could not be found`). Disconnect resets the cache.
3. Pairing with no agent registered: bluezoo dereferences a missing agent and
   silently does nothing; BlueZ does Just Works pairing (NoInputNoOutput).
   The peripheral side's device object also gets Paired/Bonded signalled, so
   the GATT server learns that the link is now encrypted.
"""
import asyncio
import sys
from importlib import metadata

SUPPORTED_BLUEZOO = "1.0.2"


def _patch():
    from bluezoo import device as devmod
    from bluezoo.log import logger

    Device = devmod.Device
    orig_connect = Device.connect

    async def drop_links(self):
        mock = self.peer_adapter.mock
        for link in list(self.services.values()):
            sub = getattr(link, "client_props_changed_subscription", None)
            if sub is not None:
                sub.unsubscribe()
            f_read = getattr(link, "f_read", None)
            if f_read is not None:
                try:
                    asyncio.get_running_loop().remove_reader(f_read)
                except Exception:
                    pass
                f_read.close()
                link.f_read = None
            client = getattr(link, "client", None)
            if client is not None and hasattr(client, "Notifying"):
                try:
                    client.Notifying.cache(False)
                except Exception:
                    pass
            try:
                mock.remove_object(link)
            except KeyError:
                pass
        self.services.clear()
        if self.services_resolved:
            await self.ServicesResolved.set_async(False)

    async def connect(self, uuid=None):
        await drop_links(self)
        await orig_connect(self, uuid)

    async def disconnect(self, uuid=None):
        self.connecting_task.cancel()
        logger.info(f"Disconnecting {self}")
        await drop_links(self)
        # The peripheral side's object for this link (exported on the peer
        # adapter) is the one the GATT server watches.
        peer_dev = self.peer_adapter.devices.get(self.peer.get_object_path()) if self.peer and self.peer.adapter else None
        if peer_dev is not None and peer_dev.connected:
            await peer_dev.Connected.set_async(False)
        if self.peer is not None and self.peer is not peer_dev:
            self.peer.connected = False
        if self.connected:
            await self.Connected.set_async(False)

    async def pair(self):
        logger.info(f"Pairing {self} with {self.adapter} (Just Works)")
        agent = self.adapter.mock.root.agent
        if agent is not None and agent.capability != "NoInputNoOutput":
            raise NotImplementedError("only Just Works pairing is emulated")
        peer_dev = None
        if self.peer is not None and self.peer.adapter is not None:
            peer_dev = self.peer_adapter.devices.get(self.peer.get_object_path())
        if peer_dev is not None:
            if not peer_dev.paired:
                await peer_dev.Paired.set_async(True)
            if not peer_dev.bonded:
                await peer_dev.Bonded.set_async(True)
                peer_dev.bonded = True
        elif self.peer is not None:
            self.peer.paired = True
            self.peer.bonded = True
        if not self.paired:
            await self.Paired.set_async(True)
        if not self.bonded:
            await self.Bonded.set_async(True)
            self.bonded = True

    Device.connect = connect
    Device.disconnect = disconnect
    Device.pair = pair


def main():
    have = metadata.version("bluezoo")
    if have != SUPPORTED_BLUEZOO:
        sys.stderr.write("bluezoo %s installed, the launcher supports %s only: run `make setup`\n"
                         % (have, SUPPORTED_BLUEZOO))
        sys.exit(3)
    _patch()
    from bluezoo.bluezoo import main as bluezoo_main
    sys.argv[0] = "bluezoo"
    bluezoo_main()


if __name__ == "__main__":
    main()
