import { Title } from '@mantine/core';

export default function ImagesPage() {
  return <Title order={2}>Images</Title>;
}
