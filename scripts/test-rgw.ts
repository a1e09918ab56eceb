/**
 * Starts one single-node Ceph cluster with radosgw for a whole test run
 * (scripts/test.sh) and prints `ENDPOINT ACCESS_KEY SECRET_KEY` for SLIPWAY_TEST_S3.
 * Its daemons outlive this script; scripts/test.sh stops them when the run ends.
 */
import { startCephRgw } from '../src/store/ceph-test-cluster.js';

const rgw = await startCephRgw();
process.stdout.write(`${rgw.endpoint} ${rgw.accessKey} ${rgw.secretKey}\n`);
