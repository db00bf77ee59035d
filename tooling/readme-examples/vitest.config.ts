import { packageConfig } from '@bpf-dispatcher/vitest-config';

export default packageConfig({ testTimeout: 180_000 });
