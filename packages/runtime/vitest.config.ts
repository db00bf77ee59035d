import { packageConfig } from '@bpf-dispatcher/vitest-config';

export default packageConfig();
