# A replica of the Python notebook's mining loop (Block.json_dumps, SHA-256 hexdigest, a prefix
# test per nonce, with RSA-1024-sized keys and signatures), timed for 3 seconds. .ci/bars runs it
# when python3 is installed, to compare Mine with the tutorial itself.
import json, hashlib, time, dataclasses as dc, secrets
from dataclasses import dataclass
from typing import Tuple
@dataclass
class Transaction:
    sender_address: str
    receiver_address: str
    value: float
    sign: str = None
    def json_dumps(self): return json.dumps(dc.asdict(self))
@dataclass
class Block:
    time: float
    transactions: Tuple[Transaction]
    previous_hash: str
    nonce: int = None
    def json_dumps(self):
        dct = dc.asdict(self)
        dct["transactions"] = [t.json_dumps() for t in self.transactions]
        return json.dumps(dct)
    def hash(self): return hashlib.sha256(self.json_dumps().encode()).hexdigest()
a, b = secrets.token_hex(162), secrets.token_hex(162)
txs = (Transaction(a, b, 5, secrets.token_hex(128)), Transaction(b, a, 5, secrets.token_hex(128)))
blk = Block(time.time(), txs, secrets.token_hex(32))
n, start = 0, time.time()
while time.time() - start < 3:
    blk.nonce = n
    if blk.hash()[:16] == "0" * 16: break
    n += 1
print(f"{n / (time.time() - start):.0f} hashes/s")
