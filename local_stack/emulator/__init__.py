"""A local AILabTools face-fusion API: the real contract over HTTPS, with fault injection.

    with FusionEmulator(api_keys={"test-key"}) as emu:
        os.environ["REQUESTS_CA_BUNDLE"] = emu.ca_bundle
        requests.post(emu.url, headers={"ailabapi-api-key": "test-key"}, files=...)

`python -m local_stack.emulator --help` runs one on its own.
"""

from local_stack.emulator.contract import API_PATH, STATUS_OF_CODE
from local_stack.emulator.faults import OUTCOMES, SPECIAL_OUTCOMES, Faults
from local_stack.emulator.server import FusionEmulator

__all__ = ["API_PATH", "OUTCOMES", "SPECIAL_OUTCOMES", "STATUS_OF_CODE", "Faults", "FusionEmulator"]
